/** The platform's password rules (packages/server/src/auth/passwords.ts). */
export const passwordLengthMin = 10;
export const passwordLengthMax = 1024;

/** What is wrong with a new password, or undefined when the platform will take it. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < passwordLengthMin) return `Use at least ${passwordLengthMin} characters.`;
  if (password.length > passwordLengthMax) return `Use at most ${passwordLengthMax} characters.`;
  return undefined;
}
