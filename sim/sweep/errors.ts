/**
 * A sweep refused before or while it runs because of its input: a bad argument, a path the scenario
 * does not have, an output directory that holds another sweep, a queue URL it cannot use. The task
 * prints the message alone, one line naming the argument, the value and what is allowed.
 */
export class SweepError extends Error {
  override name = "SweepError";
}
