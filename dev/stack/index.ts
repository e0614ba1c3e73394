// Public API of the embedded stack (start/stop/status of Temporal, Chroma, dynalite, s3rver, emulator, ollama).
export { runStackCommand, formatTable, type CliIo } from './cli';
export * from './errors';
export {
  SERVICE_NAMES,
  STATUS_NAMES,
  TEMPORAL_DYNAMIC_CONFIG,
  TEMPORAL_SEARCH_ATTRIBUTES,
  describeServices,
  temporalUiUrl,
  type ServiceName,
  type StatusName,
} from './services';
export {
  stackDown,
  stackStatus,
  stackUp,
  type ServiceState,
  type ServiceStatus,
  type StackStatus,
  type StackUpOptions,
  type StackUpResult,
  type UpAction,
} from './stack';
export { OLLAMA_STACK_MODEL, ollamaProviderEnv, ollamaUrl } from './ollama';
export { findTool, ollamaInstall, requireTool, type OllamaInstall, type ToolName } from './tools';
