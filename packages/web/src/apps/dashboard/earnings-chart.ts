import { html, type PropertyValues } from 'lit';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { MiteElement } from '../shared/mite-element.ts';
import type { ChartData } from './earnings.ts';

/** The chart's height in CSS pixels; its width follows the page. */
const chartHeightPx = 260;
/** The narrowest the chart draws: below it the panel scrolls sideways. */
const chartWidthMinPx = 280;
/** The room a bucket's label takes on the axis. */
const labelWidthPx = 90;

/**
 * One measure of the earnings report drawn by uPlot on a canvas: bars per bucket. A canvas says
 * nothing to a screen reader, so it is an image labelled by `label`, and the page lists the same
 * figures in a table. uPlot styles its parts through element.style (which the pages' policy
 * allows; it adds no style element), and its stylesheet is bundled with the page's.
 */
export class EarningsChart extends MiteElement {
  static override properties = {
    label: { type: String },
    data: { attribute: false },
  };

  declare label: string;
  declare data: ChartData | undefined;
  private plot: uPlot | undefined;
  private readonly resize = (): void => this.plot?.setSize(this.size());

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('resize', this.resize);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('resize', this.resize);
  }

  private size(): { width: number; height: number } {
    const width = Math.max(chartWidthMinPx, this.clientWidth);
    return { width, height: chartHeightPx };
  }

  protected override updated(changed: PropertyValues<this>): void {
    const data = this.data;
    const target = this.querySelector<HTMLElement>('.chart-canvas');
    if (data === undefined || target === null || !changed.has('data')) return;
    // Redrawn whole: the buckets' labels are part of the options.
    this.plot?.destroy();
    const xs = data.labels.map((_label, index) => index);
    this.plot = new uPlot(this.options(data), [xs, [...data.values]], target);
  }

  private options(data: ChartData): uPlot.Options {
    const bars = uPlot.paths.bars?.({ size: [0.6, 48] });
    return {
      ...this.size(),
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: () => [-0.5, data.labels.length - 0.5] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          // One label in every few buckets, so that they never overlap, counted back from the latest.
          splits: (u) => {
            const stride = Math.ceil(
              data.labels.length / Math.max(1, Math.floor(u.width / labelWidthPx)),
            );
            return data.labels
              .map((_label, index) => index)
              .filter((index) => (data.labels.length - 1 - index) % stride === 0);
          },
          values: (_u, ticks) => ticks.map((tick) => data.labels[tick] ?? ''),
        },
        { values: (_u, ticks) => ticks.map((tick) => `$${tick.toFixed(2)}`), size: 70 },
      ],
      series: [
        {},
        {
          label: this.label,
          stroke: '#1f4fb8',
          fill: 'rgba(31, 79, 184, 0.35)',
          points: { show: false },
          ...(bars === undefined ? {} : { paths: bars }),
        },
      ],
    };
  }

  protected override render() {
    return html`<div class="chart">
      <div class="chart-canvas" role="img" aria-label=${this.label}></div>
    </div>`;
  }
}

customElements.define('mite-earnings-chart', EarningsChart);
