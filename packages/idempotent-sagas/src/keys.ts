// Key and scope rules (DESIGN §2), and the one place a step's keys are made. Sandbox-safe: the
// workflow entry imports it. Every store entry point validates before it writes.
import { InvalidInputError } from './errors';

/** 1–255 printable ASCII characters (0x20–0x7E), the IETF Idempotency-Key draft's practical subset. */
export const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;
/** Lower-case identifier: a letter, then letters, digits, `_ . : -`; at most 64 characters. */
export const SCOPE_PATTERN = /^[a-z][a-z0-9_.:-]{0,63}$/;
/** Step IDs are chosen in workflow code: `create-order`, `reserve:SKU-1`, `charge`. */
export const STEP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/** The key if it is 1–255 printable ASCII characters; InvalidInputError naming `field` otherwise. */
export function validateKey(key: unknown, field = 'key'): string {
  if (typeof key !== 'string') throw new InvalidInputError(field, 'must be a string');
  if (key.length === 0) throw new InvalidInputError(field, 'must not be empty');
  if (key.length > 255) throw new InvalidInputError(field, `must be at most 255 characters (got ${key.length})`);
  if (!KEY_PATTERN.test(key)) throw new InvalidInputError(field, 'must contain only printable ASCII characters');
  return key;
}

/** The scope if it matches SCOPE_PATTERN; InvalidInputError otherwise. */
export function validateScope(scope: unknown): string {
  if (typeof scope !== 'string' || !SCOPE_PATTERN.test(scope)) {
    throw new InvalidInputError('scope', 'must match /^[a-z][a-z0-9_.:-]{0,63}$/');
  }
  return scope;
}

/** The step ID if it matches STEP_ID_PATTERN; InvalidInputError otherwise. */
export function validateStepId(stepId: unknown): string {
  if (typeof stepId !== 'string' || !STEP_ID_PATTERN.test(stepId)) {
    throw new InvalidInputError('stepId', 'must match /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/');
  }
  return stepId;
}

/** The two keys of a saga step: its forward effect's and its compensation's. */
export type StepKeys = { forwardKey: string; compensationKey: string };

/**
 * The keys of a saga step: forward `${workflowId}/${stepId}`, compensation `${forwardKey}/compensate`.
 * Never the run ID, activity ID or attempt, so every retry, run and replay derives the same keys.
 * Not validated here (the saga validates step IDs; the store validates every key it is given).
 */
export function stepKeys(workflowId: string, stepId: string): StepKeys {
  const forwardKey = `${workflowId}/${stepId}`;
  return { forwardKey, compensationKey: `${forwardKey}/compensate` };
}

/** The forward key of a saga step, validated. */
export function forwardKey(workflowId: string, stepId: string): string {
  return validateKey(stepKeys(workflowId, validateStepId(stepId)).forwardKey);
}

/** The compensation key of a saga step, validated. */
export function compensationKey(workflowId: string, stepId: string): string {
  return validateKey(stepKeys(workflowId, validateStepId(stepId)).compensationKey);
}

/** True when `key` is a forward or compensation key of `workflowId`. */
export function keyBelongsTo(key: string, workflowId: string): boolean {
  return key.startsWith(`${workflowId}/`) && STEP_ID_PATTERN.test(key.slice(workflowId.length + 1).replace(/\/compensate$/, ''));
}

/** The step of `workflowId` a key names, without a trailing `/compensate`; undefined for another workflow's key. */
function stepOf(workflowId: string, key: unknown): { stepId: string; compensation: boolean } | undefined {
  if (typeof key !== 'string' || !key.startsWith(`${workflowId}/`)) return undefined;
  const rest = key.slice(workflowId.length + 1);
  return rest.endsWith('/compensate') ? { stepId: rest.slice(0, -'/compensate'.length), compensation: true } : { stepId: rest, compensation: false };
}

/**
 * The summary of an activity call whose first argument carries step keys: a forward call's `key`
 * names its step; a compensation carries `compensationKey` (or a `key` ending in /compensate) or only
 * the `forwardKey` of the step it undoes. Undefined when the input names no key of this workflow.
 */
export function stepSummary(workflowId: string, input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { key, forwardKey, compensationKey } = input as Record<string, unknown>;
  const undo = stepOf(workflowId, compensationKey) ?? (stepOf(workflowId, key)?.compensation ? stepOf(workflowId, key) : undefined);
  if (undo) return `compensate ${undo.stepId}`;
  const forward = stepOf(workflowId, key);
  if (forward) return forward.stepId;
  const undone = stepOf(workflowId, forwardKey);
  return undone ? `compensate ${undone.stepId}` : undefined;
}
