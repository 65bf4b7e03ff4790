import { describe, expect, it } from "vitest";
import { fromHex, toHex, utf8 } from "./bytes.js";
import { aesGcmOpen, aesGcmSeal, hkdfSha256, hmacSha256, importSecretKey } from "./primitives.js";

/**
 * NIST CAVP AES-GCM known answers, file gcmEncryptExtIV256.rsp (Keylen 256, IVlen 96, Taglen 128),
 * https://csrc.nist.gov/Projects/Cryptographic-Algorithm-Validation-Program/CAVP-TESTING-BLOCK-CIPHER-MODES#GCMVS
 * as selected in google/quiche quiche/quic/core/crypto/aes_256_gcm_encrypter_test.cc (test groups 0–5:
 * empty plaintext, AAD only, 128-bit plaintext, 408-bit plaintext with 160- and 720-bit AAD, and a
 * 104-bit plaintext that is not a whole number of blocks).
 */
const GCM_ENCRYPT_EXT_IV_256 = [
  {
    key: "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4",
    iv: "516c33929df5a3284ff463d7",
    pt: "",
    aad: "",
    ct: "",
    tag: "bdc1ac884d332457a1d2664f168c76f0",
  },
  {
    key: "5fe0861cdc2690ce69b3658c7f26f8458eec1c9243c5ba0845305d897e96ca0f",
    iv: "770ac1a5a3d476d5d96944a1",
    pt: "",
    aad: "",
    ct: "",
    tag: "196d691e1047093ca4b3d2ef4baba216",
  },
  {
    key: "78dc4e0aaf52d935c3c01eea57428f00ca1fd475f5da86a49c8dd73d68c8e223",
    iv: "d79cf22d504cc793c3fb6c8a",
    pt: "",
    aad: "b96baa8c1c75a671bfb2d08d06be5f36",
    ct: "",
    tag: "3e5d486aa2e30b22e040b85723a06e76",
  },
  {
    key: "4457ff33683cca6ca493878bdc00373893a9763412eef8cddb54f91318e0da88",
    iv: "699d1f29d7b8c55300bb1fd2",
    pt: "",
    aad: "6749daeea367d0e9809e2dc2f309e6e3",
    ct: "",
    tag: "d60c74d2517fde4a74e0cd4709ed43a9",
  },
  {
    key: "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
    iv: "0d18e06c7c725ac9e362e1ce",
    pt: "2db5168e932556f8089a0622981d017d",
    aad: "",
    ct: "fa4362189661d163fcd6a56d8bf0405a",
    tag: "d636ac1bbedd5cc3ee727dc2ab4a9489",
  },
  {
    key: "460fc864972261c2560e1eb88761ff1c992b982497bd2ac36c04071cbb8e5d99",
    iv: "8a4a16b9e210eb68bcb6f58d",
    pt: "99e4e926ffe927f691893fb79a96b067",
    aad: "",
    ct: "133fc15751621b5f325c7ff71ce08324",
    tag: "ec4e87e0cf74a13618d0b68636ba9fa7",
  },
  {
    key: "24501ad384e473963d476edcfe08205237acfd49b5b8f33857f8114e863fec7f",
    iv: "9ff18563b978ec281b3f2794",
    pt: "27f348f9cdc0c5bd5e66b1ccb63ad920ff2219d14e8d631b3872265cf117ee86757accb158bd9abb3868fdc0d0b074b5f01b2c",
    aad: "adb5ec720ccf9898500028bf34afccbcaca126ef",
    ct: "eb7cb754c824e8d96f7c6d9b76c7d26fb874ffbf1d65c6f64a698d839b0b06145dae82057ad55994cf59ad7f67c0fa5e85fab8",
    tag: "bc95c532fecc594c36d1550286a7a3f0",
  },
  {
    key: "fb43f5ab4a1738a30c1e053d484a94254125d55dccee1ad67c368bc1a985d235",
    iv: "9fbb5f8252db0bca21f1c230",
    pt: "34b797bb82250e23c5e796db2c37e488b3b99d1b981cea5e5b0c61a0b39adb6bd6ef1f50722e2e4f81115cfcf53f842e2a6c08",
    aad: "98f8ae1735c39f732e2cbee1156dabeb854ec7a2",
    ct: "871cd53d95a8b806bd4821e6c4456204d27fd704ba3d07ce25872dc604ea5c5ea13322186b7489db4fa060c1fd4159692612c8",
    tag: "07b48e4a32fac47e115d7ac7445d8330",
  },
  {
    key: "148579a3cbca86d5520d66c0ec71ca5f7e41ba78e56dc6eebd566fed547fe691",
    iv: "b08a5ea1927499c6ecbfd4e0",
    pt: "9d0b15fdf1bd595f91f8b3abc0f7dec927dfd4799935a1795d9ce00c9b879434420fe42c275a7cd7b39d638fb81ca52b49dc41",
    aad: "e4f963f015ffbb99ee3349bbaf7e8e8e6c2a71c230a48f9d59860a29091d2747e01a5ca572347e247d25f56ba7ae8e05cde2be3c97931292c02370208ecd097ef692687fecf2f419d3200162a6480a57dad408a0dfeb492e2c5d",
    ct: "2097e372950a5e9383c675e89eea1c314f999159f5611344b298cda45e62843716f215f82ee663919c64002a5c198d7878fd3f",
    tag: "adbecdb0d5c2224d804d2886ff9a5760",
  },
  {
    key: "e49af19182faef0ebeeba9f2d3be044e77b1212358366e4ef59e008aebcd9788",
    iv: "e7f37d79a6a487a5a703edbb",
    pt: "461cd0caf7427a3d44408d825ed719237272ecd503b9094d1f62c97d63ed83a0b50bdc804ffdd7991da7a5b6dcf48d4bcd2cbc",
    aad: "19a9a1cfc647346781bef51ed9070d05f99a0e0192a223c5cd2522dbdf97d9739dd39fb178ade3339e68774b058aa03e9a20a9a205bc05f32381df4d63396ef691fefd5a71b49a2ad82d5ea428778ca47ee1398792762413cff4",
    ct: "32ca3588e3e56eb4c8301b009d8b84b8a900b2b88ca3c21944205e9dd7311757b51394ae90d8bb3807b471677614f4198af909",
    tag: "3e403d035c71d88f1be1a256c89ba6ad",
  },
  {
    key: "82c4f12eeec3b2d3d157b0f992d292b237478d2cecc1d5f161389b97f999057a",
    iv: "7b40b20f5f397177990ef2d1",
    pt: "982a296ee1cd7086afad976945",
    aad: "",
    ct: "ec8e05a0471d6b43a59ca5335f",
    tag: "113ddeafc62373cac2f5951bb9165249",
  },
  {
    key: "db4340af2f835a6c6d7ea0ca9d83ca81ba02c29b7410f221cb6071114e393240",
    iv: "40e438357dd80a85cac3349e",
    pt: "8ddb3397bd42853193cb0f80c9",
    aad: "",
    ct: "b694118c85c41abf69e229cb0f",
    tag: "c07f1b8aafbd152f697eb67f2a85fe45",
  },
] as const;

const hex = (text: string): Uint8Array => {
  const bytes = fromHex(text);
  if (!bytes) throw new Error(`bad hex in test vector: ${text}`);
  return bytes;
};

describe("AES-256-GCM primitive against NIST CAVP gcmEncryptExtIV256", () => {
  it.each(GCM_ENCRYPT_EXT_IV_256.map((v, i) => [i, v] as const))(
    "vector %i seals to the published CT ‖ Tag",
    (_, v) => {
      const sealed = aesGcmSeal(importSecretKey(hex(v.key)), hex(v.iv), hex(v.pt), hex(v.aad));
      expect(toHex(sealed)).toBe(v.ct + v.tag);
    },
  );

  it.each(GCM_ENCRYPT_EXT_IV_256.map((v, i) => [i, v] as const))(
    "vector %i opens back to the published PT",
    (_, v) => {
      const opened = aesGcmOpen(importSecretKey(hex(v.key)), hex(v.iv), hex(v.ct + v.tag), hex(v.aad));
      expect(opened && toHex(opened)).toBe(v.pt);
    },
  );

  it("refuses every vector whose tag, ciphertext or AAD has one flipped bit", () => {
    for (const v of GCM_ENCRYPT_EXT_IV_256) {
      const key = importSecretKey(hex(v.key));
      const sealed = hex(v.ct + v.tag);
      for (let bit = 0; bit < sealed.byteLength * 8; bit += 7) {
        const tampered = sealed.slice();
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        expect(aesGcmOpen(key, hex(v.iv), tampered, hex(v.aad))).toBeUndefined();
      }
      const aad = hex(v.aad);
      if (aad.byteLength > 0) {
        aad[0]! ^= 0x80;
        expect(aesGcmOpen(key, hex(v.iv), sealed, aad)).toBeUndefined();
      }
    }
  });

  it("refuses a truncated tag and a wrong-length IV instead of accepting a shorter check", () => {
    const v = GCM_ENCRYPT_EXT_IV_256[4];
    const key = importSecretKey(hex(v.key));
    expect(aesGcmOpen(key, hex(v.iv), hex(v.ct + v.tag.slice(0, 24)), hex(v.aad))).toBeUndefined();
    expect(aesGcmOpen(key, hex(v.iv).subarray(0, 8), hex(v.ct + v.tag), hex(v.aad))).toBeUndefined();
    expect(aesGcmOpen(key, hex(v.iv), new Uint8Array(4), hex(v.aad))).toBeUndefined();
  });
});

/** RFC 5869 Appendix A, test cases 1–3 (HKDF-SHA256), as listed in google/quiche quic_hkdf_test.cc. */
describe("HKDF-SHA256 primitive against RFC 5869 Appendix A", () => {
  it("test case 1 (basic)", () => {
    const okm = hkdfSha256(
      hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
      hex("000102030405060708090a0b0c"),
      hex("f0f1f2f3f4f5f6f7f8f9"),
      42,
    );
    expect(toHex(okm)).toBe(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
  });

  it("test case 2 (longer inputs and outputs)", () => {
    const range = (from: number, to: number) =>
      Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);
    const okm = hkdfSha256(range(0x00, 0x4f), range(0x60, 0xaf), range(0xb0, 0xff), 82);
    expect(toHex(okm)).toBe(
      "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
    );
  });

  it("test case 3 (empty salt and info)", () => {
    const okm = hkdfSha256(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), hex(""), hex(""), 42);
    expect(toHex(okm)).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
  });
});

/** RFC 4231 §4.2 and §4.3 (HMAC-SHA-256 test cases 1 and 2). */
describe("HMAC-SHA256 primitive against RFC 4231", () => {
  it("test case 1", () => {
    const mac = hmacSha256(new Uint8Array(20).fill(0x0b), utf8("Hi There"));
    expect(toHex(mac)).toBe("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  });

  it("test case 2 (key shorter than the block)", () => {
    const mac = hmacSha256(utf8("Jefe"), utf8("what do ya want for nothing?"));
    expect(toHex(mac)).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });
});
