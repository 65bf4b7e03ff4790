export { type CsrfOptions, type CsrfProtection, csrf, type IssuedToken } from "./csrf.js";
