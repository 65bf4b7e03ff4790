export {
  type BodyGuardOptions,
  bodyGuard,
  bodyProblem,
  DEFAULT_JSON_MAX_BYTES,
  type JsonBodyOptions,
  jsonBody,
  parseContentType,
} from "./body.js";
export { type JsonDecision, type SafeJsonOptions, safeJsonParse, safeJsonParser } from "./json.js";
export {
  type Params,
  type ParamsDecision,
  type ParamsOptions,
  paramsProblem,
  parseParams,
  queryGuard,
} from "./params.js";
export { DEFAULT_ALLOWED_TAGS, type HtmlSanitizerOptions, htmlSanitizer, sanitizeHtml } from "./sanitize.js";
export {
  type EmailDecision,
  type NormalizeEmailOptions,
  type NormalizeTextOptions,
  normalizeEmail,
  normalizeText,
} from "./text.js";
