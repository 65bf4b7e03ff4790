import axios, { AxiosError, type AxiosResponse, type InternalAxiosRequestConfig } from "axios";
import { beforeEach, describe, expect, it } from "vitest";
import { csrfAxios } from "./axios.js";
import { fakeServer } from "./fake-server.test-helper.js";
import { createCsrfFetch } from "./fetch.js";
import { resetCsrfTokenManagers } from "./manager.js";

beforeEach(() => resetCsrfTokenManagers());

/** A real axios instance whose transport is the fake server (axios's own config merging and interceptors run). */
function setup(baseURL = "https://app.example/api") {
  const server = fakeServer();
  const instance = axios.create({
    baseURL,
    adapter: async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
      const url = axios.getUri(config);
      const response = await server.fetch(url, {
        method: config.method?.toUpperCase(),
        headers: Object.fromEntries(Object.entries(config.headers.toJSON()).map(([k, v]) => [k, String(v)])),
        body: config.data === undefined ? undefined : String(config.data),
      });
      const text = await response.text();
      const result: AxiosResponse = {
        data: text,
        status: response.status,
        statusText: response.statusText,
        headers: Object.fromEntries(response.headers),
        config,
      };
      if (response.status >= 400) {
        // Like axios's own adapters, parse the body before rejecting.
        result.data = config.transformResponse
          ? (config.transformResponse as Array<(d: unknown) => unknown>).reduce(
              (d, fn) => fn.call(config, d),
              text as unknown,
            )
          : text;
        throw new AxiosError("Request failed", AxiosError.ERR_BAD_REQUEST, config, {}, result);
      }
      return result;
    },
  });
  csrfAxios(instance, { tokenUrl: "https://app.example/csrf-token", fetch: server.fetch });
  return { server, instance };
}

describe("csrfAxios", () => {
  it("fetches one token for 20 concurrent unsafe requests and sends it with each", async () => {
    const { server, instance } = setup();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => instance.post(`/items/${i}`, `n=${i}`)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(server.tokenRequests()).toBe(1);
    expect(server.apiRequests().map((r) => r.token)).toEqual(Array(20).fill("t1"));
  });

  it("attaches nothing to safe or cross-origin requests", async () => {
    const { server, instance } = setup();
    await instance.get("/items");
    await instance.post("https://evil.example/steal", "x");
    await instance.put("http://app.example/api/x", "x");
    expect(server.tokenRequests()).toBe(0);
    expect(server.requests.every((r) => r.token === null)).toBe(true);
  });

  it("refreshes once and retries once on a token refusal", async () => {
    const { server, instance } = setup();
    await instance.post("/a", "1");
    server.expireTokens();
    const response = await instance.patch("/a", "payload");
    expect(response.data).toBe("accepted:payload");
    expect(server.tokenRequests()).toBe(2);
    expect(server.apiRequests().map((r) => r.token)).toEqual(["t1", "t1", "t2"]);
  });

  it("refreshes exactly once for 20 concurrent refusals", async () => {
    const { server, instance } = setup();
    await instance.post("/warm");
    server.expireTokens();
    const responses = await Promise.all(Array.from({ length: 20 }, () => instance.delete("/items")));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(server.tokenRequests()).toBe(2);
  });

  it("rejects with the second refusal instead of looping", async () => {
    const { server, instance } = setup();
    server.rejectEverything("ERR_CSRF_TOKEN_INVALID");
    const error = (await instance.post("/a", "x").catch((e: unknown) => e)) as AxiosError;
    expect(error.response?.status).toBe(403);
    expect(error.response?.data).toMatchObject({ code: "ERR_CSRF_TOKEN_INVALID" });
    expect(server.apiRequests()).toHaveLength(2);
    expect(server.tokenRequests()).toBe(2);
  });

  it("rejects with the refusal when the refresh itself fails", async () => {
    const { server, instance } = setup();
    await instance.post("/a");
    server.expireTokens();
    const realFetch = server.fetch.getMockImplementation()!;
    server.fetch.mockImplementation(async (input, init) =>
      String(input).endsWith("/csrf-token") ? new Response("down", { status: 503 }) : realFetch(input, init),
    );
    await expect(instance.post("/a")).rejects.toMatchObject({
      response: { status: 403, data: { code: "ERR_CSRF_TOKEN_INVALID" } },
    });
  });

  it("does not retry an origin refusal", async () => {
    const { server, instance } = setup();
    server.rejectEverything("ERR_CSRF_ORIGIN_MISMATCH");
    await expect(instance.post("/a")).rejects.toMatchObject({ response: { status: 403 } });
    expect(server.apiRequests()).toHaveLength(1);
  });

  it("shares the token with fetch-based clients of the same origin", async () => {
    const { server, instance } = setup();
    const csrfFetch = createCsrfFetch({ tokenUrl: "https://app.example/csrf-token", fetch: server.fetch });
    await Promise.all([instance.post("/a"), csrfFetch("https://app.example/api/b", { method: "POST" })]);
    expect(server.tokenRequests()).toBe(1);
  });
});
