/** The app's password policy (hashing itself is bulwark/auth's passwordHasher). */

export const MIN_PASSWORD_LENGTH = 12;
/** Characters; bulwark/auth refuses more than 1,024 bytes before hashing anyway. */
export const MAX_PASSWORD_LENGTH = 256;

/** Why a new password is refused, or undefined when acceptable. */
export function passwordProblem(password: string, context: readonly string[] = []): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (new Set(lower).size < 5) return "too repetitive";
  for (const word of context) {
    if (word.length >= 4 && lower.includes(word.toLowerCase())) return "contains your name or e-mail";
  }
  return undefined;
}
