/**
 * The one spelling of an email address the service stores and looks up: case does not make
 * a different account.
 */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
