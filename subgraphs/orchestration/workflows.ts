/**
 * Every step the engine can run, by name: order-to-cash's (steps.ts) and those of the customer
 * master, amendments and repairs. The engine looks steps up here, so a run of any kind goes
 * through the same forward, retry, compensation and dead-letter machinery.
 */
import { AMENDMENT_STEPS } from './amendment-steps';
import { CUSTOMER_SYNC_STEPS } from './customer-sync-steps';
import type { StepName } from './model';
import { REPAIR_STEPS } from './repair-steps';
import { STEPS, type StepDefinition } from './steps';

const ALL_STEPS: Record<StepName, StepDefinition> = {
  ...STEPS,
  ...CUSTOMER_SYNC_STEPS,
  ...AMENDMENT_STEPS,
  ...REPAIR_STEPS,
};

export function stepDefinition(name: StepName): StepDefinition {
  return ALL_STEPS[name];
}
