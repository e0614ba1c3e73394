// Workflow-side helpers shared by the pipelines (workflow-safe only: no I/O, no Node built-ins).
export * from './activity-options';
export * from './failure-types';
export * from './run-lifecycle';
export * from './search-attributes';
export * from './sliding-window';
export * from './paged-window';
export * from './run-fan-out';
export * from './root-steps';
export * from './progress';
export * from './proxies';
