export {
  ChatClient,
  type ChatClientOptions,
  type ChatCompletion,
  type ChatMessage,
  parseRetryAfterMs,
} from './chat-client.js';
export { buildPrompt, type PromptRow } from './prompt.js';
