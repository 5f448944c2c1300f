// Parsing numeric command-line flags into what the code needs, with an InvalidInputError (exit 2) naming the flag.
// A flag that reaches the SDK unchecked fails late and far from the user's typo (Number('abc') is NaN).
import { InvalidInputError } from '../errors.js';

/** `value` as a whole number ≥ 1, or an error naming `flag`. */
export function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1)
    throw new InvalidInputError(`${flag} must be a whole number of at least 1, not ${JSON.stringify(value)}`);
  return n;
}
