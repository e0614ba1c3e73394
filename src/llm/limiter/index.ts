// The global LLM concurrency cap (global-limiter.ts explains how it learns the provider's limit).
export * from './options';
export { GlobalLimiter } from './global-limiter';
export { LimiterCapMismatchError } from './cap-mismatch';
export { pickSlot } from './slots';
