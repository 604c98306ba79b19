import { html } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { newIdempotencyKey, operatorCall } from './console-session.ts';

interface SpendingClass {
  readonly category: 'content' | 'goods';
  readonly resellable: boolean;
}

/**
 * How the operator classes what a merchant sells, for the users' monthly caps: its category (for
 * its HTTP 402 challenges; offers carry their own) and whether its goods resell easily, which puts
 * its sales under the lower resellable cap. `PUT /v1/merchants/{id}/spending-class`.
 */
export class MerchantSpendingClass extends MiteElement {
  static override properties = {
    merchantId: { attribute: 'merchant-id' },
    category: {},
    resellable: { type: Boolean },
    status: { state: true },
    busy: { state: true },
  };

  declare merchantId: string;
  declare category: 'content' | 'goods';
  declare resellable: boolean;
  declare status: { readonly ok: boolean; readonly text: string } | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.category = 'content';
    this.resellable = false;
    this.busy = false;
  }

  private async save(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const category = (form.elements.namedItem('category') as HTMLSelectElement).value;
    const resellable = (form.elements.namedItem('resellable') as HTMLInputElement).checked;
    this.busy = true;
    const result = await operatorCall<SpendingClass>(
      'PUT',
      `/v1/merchants/${encodeURIComponent(this.merchantId)}/spending-class`,
      { body: { category, resellable }, idempotencyKey: newIdempotencyKey() },
    );
    this.busy = false;
    if (result.ok) {
      this.category = result.value.category;
      this.resellable = result.value.resellable;
      this.status = { ok: true, text: 'Saved' };
    } else this.status = { ok: false, text: describeProblem(result.problem) };
  }

  protected override render() {
    const id = `class-${this.merchantId}`;
    return html`<form
      class="inline-form"
      novalidate
      @submit=${this.save}
      aria-label=${`Spending class of ${this.merchantId}`}
    >
      <label for=${`${id}-category`}>Category</label>
      <select id=${`${id}-category`} name="category">
        <option value="content" ?selected=${this.category === 'content'}>Content</option>
        <option value="goods" ?selected=${this.category === 'goods'}>Goods</option>
      </select>
      <label class="check"
        ><input type="checkbox" name="resellable" ?checked=${this.resellable} /> Resellable</label
      >
      <button type="submit" ?disabled=${this.busy}>Save</button>
      ${
        this.status === undefined
          ? ''
          : html`<span
              role=${this.status.ok ? 'status' : 'alert'}
              class=${this.status.ok ? 'status-ok' : 'error'}
              >${this.status.text}</span
            >`
      }
    </form>`;
  }
}

customElements.define('mite-merchant-spending-class', MerchantSpendingClass);
