import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import {
  type FieldErrors,
  field,
  focusFirstInvalid,
  inputValue,
  looksLikeEmail,
} from '../shared/forms.ts';
import { DashboardScreenElement } from './dashboard-screen.ts';
import {
  holdsScope,
  leaveOnEndedSession,
  type MerchantRole,
  type MerchantSession,
  roleNames,
} from './merchant-session.ts';
import './dashboard-shell.ts';

/** `GET /v1/merchants/{id}/members` items. */
interface Member {
  readonly userId: string;
  readonly email: string;
  readonly role: MerchantRole;
}

/** `POST /v1/merchants/{id}/invitations`'s answer: the token is shown this once. */
interface Invitation {
  readonly invitationId: string;
  readonly expiresAt: string;
  readonly acceptPath: string;
}

type InviteField = 'email';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * The merchant's team, for its owners: who may use the dashboard and in which role, an invitation
 * by email (its link shown once, to be passed on by the owner), and removing a member.
 */
export class MembersPage extends DashboardScreenElement {
  static override properties = {
    members: { state: true },
    failure: { state: true },
    errors: { state: true },
    invited: { state: true },
    busy: { state: true },
  };

  declare members: readonly Member[] | undefined;
  declare failure: string | undefined;
  declare errors: FieldErrors<InviteField>;
  declare invited: { email: string; link: string; expiresAt: string } | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  private base(): string {
    return `/v1/merchants/${encodeURIComponent(this.session?.merchantId ?? '')}`;
  }

  protected override async load(): Promise<void> {
    const result = await callApi<{ items: Member[] } | Member[]>('GET', `${this.base()}/members`);
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.failure = describeProblem(result.problem);
      }
      return;
    }
    this.members = Array.isArray(result.value) ? result.value : result.value.items;
  }

  private async invite(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const email = inputValue(form, 'email').trim();
    const role = (form.elements.namedItem('role') as HTMLSelectElement | null)?.value ?? 'viewer';
    this.errors = looksLikeEmail(email)
      ? {}
      : { email: 'Enter an email address, like name@example.com.' };
    this.failure = undefined;
    this.invited = undefined;
    if (this.errors.email !== undefined) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.busy = true;
    const result = await callApi<Invitation>('POST', `${this.base()}/invitations`, {
      body: { email, role },
      idempotencyKey: crypto.randomUUID(),
    });
    this.busy = false;
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.failure = `No invitation was made. ${describeProblem(result.problem)}`;
      }
      return;
    }
    this.invited = {
      email,
      link: new URL(result.value.acceptPath, window.location.origin).href,
      expiresAt: result.value.expiresAt,
    };
    form.reset();
  }

  private async removeMember(member: Member): Promise<void> {
    if (!window.confirm(`Remove ${member.email} from the team? They can no longer log in here.`)) {
      return;
    }
    const result = await callApi(
      'DELETE',
      `${this.base()}/members/${encodeURIComponent(member.userId)}`,
    );
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.failure = `${member.email} was not removed. ${describeProblem(result.problem)}`;
      }
      return;
    }
    await this.load();
  }

  protected override render() {
    const session = this.session;
    return html`<h1>Members</h1>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      ${this.renderMembers(session)}
      ${session !== undefined && holdsScope(session, 'members:write') ? this.renderInvite() : nothing}`;
  }

  private renderMembers(session: MerchantSession | undefined) {
    const members = this.members;
    if (members === undefined) return html`<p role="status">Loading the team…</p>`;
    const mayRemove = session !== undefined && holdsScope(session, 'members:write');
    return html`<div class="table-scroll">
      <table class="responsive-table" aria-label="Members" data-testid="members">
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            ${mayRemove ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : nothing}
          </tr>
        </thead>
        <tbody>
          ${members.map(
            (member) =>
              html`<tr>
                <td data-label="Email">
                  ${member.email}${member.userId === session?.userId ? ' (you)' : ''}
                </td>
                <td data-label="Role">${roleNames[member.role] ?? member.role}</td>
                ${
                  mayRemove
                    ? html`<td data-label="Actions">
                        ${
                          member.userId === session?.userId
                            ? nothing
                            : html`<button
                                type="button"
                                class="secondary"
                                @click=${() => this.removeMember(member)}
                              >
                                Remove<span class="visually-hidden"> ${member.email}</span>
                              </button>`
                        }
                      </td>`
                    : nothing
                }
              </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
  }

  private renderInvite() {
    return html`<section class="panel" aria-labelledby="invite-heading">
      <h2 id="invite-heading">Invite someone</h2>
      ${
        this.invited === undefined
          ? nothing
          : html`<div class="notice success" role="status">
              <p>
                Send this link to ${this.invited.email}: it is shown only now, and works until
                ${dateFormat.format(new Date(this.invited.expiresAt))}.
              </p>
              <p><code data-testid="invitation-link">${this.invited.link}</code></p>
            </div>`
      }
      <form novalidate @submit=${this.invite} aria-labelledby="invite-heading">
        ${field({ id: 'email', label: 'Email', type: 'email', error: this.errors.email })}
        <div class="field">
          <label for="role">Role</label>
          <select id="role" name="role">
            <option value="viewer">Viewer: reads everything, changes nothing</option>
            <option value="owner">Owner: may do everything, invitations included</option>
          </select>
        </div>
        <div><button type="submit" ?disabled=${this.busy}>Make an invitation</button></div>
      </form>
    </section>`;
  }
}

customElements.define('mite-dashboard-members', MembersPage);
