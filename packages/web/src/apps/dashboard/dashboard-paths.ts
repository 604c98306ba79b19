/**
 * The merchant dashboard's screens, where each is served. The shell's navigation lists every
 * screen in this order (those naming a scope only to sessions holding it); a screen's page passes
 * its key as the shell's `current`.
 */
export const dashboardScreens = [
  { key: 'overview', label: 'Overview', path: '/dashboard/' },
  { key: 'payments', label: 'Payments', path: '/dashboard/payments/' },
  { key: 'sessions', label: 'Sessions', path: '/dashboard/sessions/', scope: 'sessions:read' },
  { key: 'offers', label: 'Offers', path: '/dashboard/offers/' },
  { key: 'payouts', label: 'Payouts', path: '/dashboard/payouts/' },
  { key: 'keys', label: 'API keys', path: '/dashboard/keys/' },
  { key: 'webhooks', label: 'Webhooks', path: '/dashboard/webhooks/' },
  { key: 'fees', label: 'Fees', path: '/dashboard/fees/' },
] as const;

export type DashboardScreen = (typeof dashboardScreens)[number]['key'];

/** The pages outside the shell: before a session exists. */
export const dashboardPaths = {
  home: '/dashboard/',
  logIn: '/dashboard/login/',
  signUp: '/dashboard/signup/',
  /** Followed by `#token=<invitation token>`: a fragment never reaches a server's logs. */
  accept: '/dashboard/accept/',
  members: '/dashboard/members/',
} as const;
