import { describe, expect, it } from "vitest";
import { parseStripeForm } from "./form.js";

describe("parseStripeForm", () => {
  it("decodes the stripe SDK's bracket notation into nested objects and arrays", () => {
    const body =
      "mode=payment&line_items[0][quantity]=1&line_items[0][price_data][currency]=eur" +
      "&line_items[0][price_data][unit_amount]=12500&metadata[school_id]=abc" +
      "&payment_intent_data[transfer_data][destination]=acct_1&success_url=http%3A%2F%2Fa%2Fs%3Fid%3D%7BCHECKOUT_SESSION_ID%7D";
    expect(JSON.parse(JSON.stringify(parseStripeForm(body)))).toEqual({
      mode: "payment",
      line_items: [{ quantity: "1", price_data: { currency: "eur", unit_amount: "12500" } }],
      metadata: { school_id: "abc" },
      payment_intent_data: { transfer_data: { destination: "acct_1" } },
      success_url: "http://a/s?id={CHECKOUT_SESSION_ID}",
    });
  });

  it("refuses prototype-polluting names", () => {
    expect(() => parseStripeForm("metadata[__proto__][x]=1")).toThrow(/forbidden/);
    expect(() => parseStripeForm("constructor[prototype][x]=1")).toThrow(/forbidden/);
  });
});
