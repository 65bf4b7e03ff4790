export { type WebhookGuardOptions, type WebhookLocals, webhookGuard } from "./guard.js";
export {
  generateWebhookKeyPair,
  generateWebhookSecret,
  type SignStripeWebhookOptions,
  type SignWebhookOptions,
  type StandardWebhookHeaders,
  signGitHubWebhook,
  signStripeWebhook,
  signWebhook,
} from "./sign.js";
export type {
  HmacProviderOptions,
  ReplayStore,
  VerifyFailure,
  VerifyFailureCode,
  VerifyInput,
  VerifyResult,
  VerifySuccess,
  WebhookHeaders,
  WebhookProvider,
  WebhookVerifier,
  WebhookVerifierOptions,
} from "./types.js";
export { webhookVerifier } from "./verifier.js";
