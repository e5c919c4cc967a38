// The owner's signatures (SPEC sections 3 "ERC-1271", 4, 6; THREATS classes 2 and 10): grantAgentBySig with EIP-712
// typed data signed by the owner, and isValidSignature, which accepts only the owner's ERC-7739 signatures, never an
// agent key's, never one made for another account or chain, never a bare ECDSA signature of an arbitrary hash.
import { expect } from "chai";
import { network } from "hardhat";
import {
  type Address,
  type Hex,
  createWalletClient,
  custom,
  hashMessage,
  hashTypedData,
  keccak256,
  parseSignature,
  serializeCompactSignature,
  serializeSignature,
  signatureToCompactSignature,
  toHex,
  zeroAddress,
} from "viem";
import { signMessage as sign7739Message, signTypedData as sign7739TypedData } from "viem/experimental/erc7739";

import { transferWithAuthorizationTypes } from "../src/x402/lane.js";

import {
  type AdminWorld,
  ERC1271_INVALID,
  ERC1271_MAGIC,
  type Grant,
  adminWorld,
  call,
  expectEvents,
  expectRevert,
  expectUnchanged,
  same,
  secondPolicy,
  send,
  signGrant,
} from "./helpers/admin.js";
import { ROLES, USDC, agentIdFor, hdKey, zeroHash } from "./helpers/stopline.js";

const conn = await network.create();
const { networkHelpers } = conn;

const ID2 = agentIdFor(2);
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The world plus a second account of the same owner (salt 1), to replay signatures across accounts. */
async function sigWorld() {
  const s = await adminWorld(conn);
  await s.factory.write.createAccount([s.addr.owner, 1n]);
  const account2Address = await s.factory.read.getAddress([s.addr.owner, 1n]);
  const account2 = await s.viem.getContractAt("AgentAccount", account2Address, { client: { wallet: s.wallets.owner } });
  const chainId = await s.publicClient.getChainId();
  return { ...s, account2, chainId };
}
type W = Awaited<ReturnType<typeof sigWorld>>;
const world = sigWorld;

const grantFor = (s: AdminWorld, o: Partial<Grant> = {}): Grant => ({
  agentId: ID2,
  key: s.addr.agent2,
  policy: secondPolicy(s),
  nonce: 0n,
  deadline: 2n ** 40n,
  ...o,
});

/** grantAgentBySig(grant, signature) sent from `from` (anyone may submit). */
const submit = (s: W, grant: Grant, signature: Hex, from: keyof W["wallets"] = "stranger", gas?: bigint) =>
  s.account.write.grantAgentBySig([grant.agentId, grant.key, grant.policy, grant.deadline, signature], {
    account: s.wallets[from].account,
    gas,
  });

describe("grantAgentBySig", function () {
  it("grants on the owner's EIP-712 signature submitted by the agent key itself, and uses up the grant nonce", async function () {
    const s = await networkHelpers.loadFixture(world);
    const grant = grantFor(s);
    const hash = await submit(s, grant, await signGrant(s, grant), "agent2");
    const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
    expectEvents(receipt, s.account.abi, "AgentGranted", s.accountAddress, [
      { agentId: ID2, key: s.addr.agent2, mandate: grant.policy.mandate, policy: grant.policy },
    ]);
    same(await s.account.read.getAgent([ID2]), [s.addr.agent2, false, grant.policy]);
    expect(await s.account.read.agentOf([s.addr.agent2])).to.equal(ID2);
    expect(await s.account.read.grantNonce()).to.equal(1n);

    // the next grant signs nonce 1, and a stranger may submit it
    const next = grantFor(s, { agentId: agentIdFor(3), key: s.addr.newKey, nonce: 1n });
    await submit(s, next, await signGrant(s, next), "stranger");
    expect(await s.account.read.agentOf([s.addr.newKey])).to.equal(agentIdFor(3));
    expect(await s.account.read.grantNonce()).to.equal(2n);
  });

  it("refuses a replay of a used signature with InvalidGrantSignature", async function () {
    const s = await networkHelpers.loadFixture(world);
    const grant = grantFor(s);
    const signature = await signGrant(s, grant);
    await submit(s, grant, signature);
    await expectUnchanged(s, () =>
      expectRevert(submit(s, grant, signature), s.account.abi, "InvalidGrantSignature", []),
    );
    // nor can the same signature grant anything after a revocation
    await s.account.write.revokeAgent([ID2]);
    await expectUnchanged(s, () =>
      expectRevert(submit(s, grant, signature), s.account.abi, "InvalidGrantSignature", []),
    );
  });

  it("refuses a signature made for a later nonce", async function () {
    const s = await networkHelpers.loadFixture(world);
    const grant = grantFor(s, { nonce: 1n });
    const signature = await signGrant(s, grant);
    await expectUnchanged(s, () =>
      expectRevert(submit(s, grant, signature), s.account.abi, "InvalidGrantSignature", []),
    );
  });

  it("accepts a grant mined exactly at its deadline", async function () {
    const s = await networkHelpers.loadFixture(world);
    const deadline = BigInt(await networkHelpers.time.latest()) + 100n;
    const grant = grantFor(s, { deadline });
    const signature = await signGrant(s, grant);
    await networkHelpers.time.setNextBlockTimestamp(deadline);
    const hash = await submit(s, grant, signature, "stranger", 3_000_000n);
    const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
    expect((await s.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp).to.equal(deadline);
    expect(await s.account.read.agentOf([s.addr.agent2])).to.equal(ID2);
  });

  it("refuses it one second after its deadline with GrantExpired(deadline)", async function () {
    const s = await networkHelpers.loadFixture(world);
    const deadline = BigInt(await networkHelpers.time.latest()) + 100n;
    const grant = grantFor(s, { deadline });
    const signature = await signGrant(s, grant);
    await expectUnchanged(s, async () => {
      await networkHelpers.time.setNextBlockTimestamp(deadline + 1n);
      // an explicit gas limit mines the transaction in the block at deadline + 1
      await expectRevert(submit(s, grant, signature, "stranger", 3_000_000n), s.account.abi, "GrantExpired", [
        deadline,
      ]);
      expect((await s.publicClient.getBlock()).timestamp).to.equal(deadline + 1n);
    });
  });

  for (const role of ["agent", "agent2", "stranger", "guardian"] as const) {
    it(`refuses a grant signed by the ${role} instead of the owner`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.setGuardian([s.addr.guardian]);
      const grant = grantFor(s);
      const signature = await signGrant(s, grant, { signer: ROLES[role] });
      await expectUnchanged(s, () =>
        expectRevert(submit(s, grant, signature), s.account.abi, "InvalidGrantSignature", []),
      );
    });
  }

  it("refuses a signature made for another account of the same owner, which that account accepts", async function () {
    const s = await networkHelpers.loadFixture(world);
    const grant = grantFor(s);
    const signature = await signGrant(s, grant, { domain: { verifyingContract: s.account2.address } });
    await expectUnchanged(s, () =>
      expectRevert(submit(s, grant, signature), s.account.abi, "InvalidGrantSignature", []),
    );
    await s.account2.write.grantAgentBySig([grant.agentId, grant.key, grant.policy, grant.deadline, signature], {
      account: s.wallets.stranger.account,
    });
    expect(await s.account2.read.agentOf([s.addr.agent2])).to.equal(ID2);
  });

  for (const [title, domain] of [
    ["another chain", { chainId: 1 }],
    ["another domain name", { name: "Stopline Account" }],
    ["another domain version", { version: "2" }],
  ] as [string, NonNullable<Parameters<typeof signGrant>[2]>["domain"]][]) {
    it(`refuses a signature made for ${title}`, async function () {
      const s = await networkHelpers.loadFixture(world);
      const grant = grantFor(s);
      const signature = await signGrant(s, grant, { domain });
      await expectUnchanged(s, () =>
        expectRevert(submit(s, grant, signature), s.account.abi, "InvalidGrantSignature", []),
      );
    });
  }

  describe("refuses a signature when any signed field was changed", function () {
    const TAMPER: [string, (s: W, g: Grant) => Grant][] = [
      ["agentId", (_s, g) => ({ ...g, agentId: agentIdFor(3) })],
      ["key", (s, g) => ({ ...g, key: s.addr.newKey })],
      ["deadline", (_s, g) => ({ ...g, deadline: g.deadline + 1n })],
      ["policy.validAfter", (_s, g) => ({ ...g, policy: { ...g.policy, validAfter: 1 } })],
      ["policy.validUntil", (_s, g) => ({ ...g, policy: { ...g.policy, validUntil: g.policy.validUntil + 1 } })],
      ["policy.period", (_s, g) => ({ ...g, policy: { ...g.policy, period: 3600 } })],
      ["policy.activeHours", (_s, g) => ({ ...g, policy: { ...g.policy, activeHours: g.policy.activeHours - 1n } })],
      ["policy.maxCallsPerPeriod", (_s, g) => ({ ...g, policy: { ...g.policy, maxCallsPerPeriod: 21 } })],
      ["policy.gasBudget", (_s, g) => ({ ...g, policy: { ...g.policy, gasBudget: g.policy.gasBudget + 1n } })],
      ["policy.mandate", (_s, g) => ({ ...g, policy: { ...g.policy, mandate: keccak256(toHex("spend it all")) } })],
      [
        "a per-payment cap in policy.limits",
        (_s, g) => ({
          ...g,
          policy: { ...g.policy, limits: [{ ...g.policy.limits[0], perPayment: g.policy.limits[0].perPayment + 1n }] },
        }),
      ],
      [
        "a lifetime cap in policy.limits",
        (_s, g) => ({
          ...g,
          policy: {
            ...g.policy,
            limits: [g.policy.limits[0], { ...g.policy.limits[1], lifetime: g.policy.limits[1].lifetime * 2n }],
          },
        }),
      ],
      ["policy.limits (one dropped)", (_s, g) => ({ ...g, policy: { ...g.policy, limits: [g.policy.limits[0]] } })],
      [
        "the order of policy.merchants",
        (_s, g) => ({ ...g, policy: { ...g.policy, merchants: [...g.policy.merchants].reverse() } }),
      ],
      [
        "policy.merchants (one added)",
        (s, g) => ({ ...g, policy: { ...g.policy, merchants: [...g.policy.merchants, s.addr.stranger] } }),
      ],
    ];
    for (const [field, tamper] of TAMPER) {
      it(`refuses it when ${field} differs from what was signed`, async function () {
        const s = await networkHelpers.loadFixture(world);
        const grant = grantFor(s);
        const signature = await signGrant(s, grant);
        await expectUnchanged(s, () =>
          expectRevert(submit(s, tamper(s, grant), signature), s.account.abi, "InvalidGrantSignature", []),
        );
      });
    }
  });

  it("refuses malformed signatures: empty, the 64-byte compact form and the high-s twin of a good one", async function () {
    const s = await networkHelpers.loadFixture(world);
    const grant = grantFor(s);
    const good = await signGrant(s, grant);
    const sig = parseSignature(good);
    const compact = serializeCompactSignature(signatureToCompactSignature(sig));
    const highS = serializeSignature({
      r: sig.r,
      s: toHex(SECP256K1_N - BigInt(sig.s), { size: 32 }),
      yParity: sig.yParity === 0 ? 1 : 0,
    });
    for (const bad of ["0x", compact, highS] as Hex[]) {
      await expectUnchanged(s, () => expectRevert(submit(s, grant, bad), s.account.abi, "InvalidGrantSignature", []));
    }
    await submit(s, grant, good);
    expect(await s.account.read.agentOf([s.addr.agent2])).to.equal(ID2);
  });

  describe("the order of the checks: expired, then the signature, then grantAgent's", function () {
    it("reports GrantExpired before a bad signature", async function () {
      const s = await networkHelpers.loadFixture(world);
      const deadline = BigInt(await networkHelpers.time.latest()) - 1n;
      const grant = grantFor(s, { deadline, agentId: s.agentId, key: zeroAddress });
      await expectUnchanged(s, () => expectRevert(submit(s, grant, "0x"), s.account.abi, "GrantExpired", [deadline]));
    });

    it("reports InvalidGrantSignature before an existing id, a bad key or an invalid policy", async function () {
      const s = await networkHelpers.loadFixture(world);
      const grant = grantFor(s, { agentId: s.agentId, key: s.addr.agent, policy: secondPolicy(s, { period: 0 }) });
      const signature = await signGrant(s, grant, { signer: ROLES.stranger });
      await expectUnchanged(s, () =>
        expectRevert(submit(s, grant, signature), s.account.abi, "InvalidGrantSignature", []),
      );
    });

    const AFTER: [string, (s: W) => Partial<Grant>, string, (s: W) => unknown[]][] = [
      ["an existing id", (s) => ({ agentId: s.agentId }), "AgentAlreadyExists", (s) => [s.agentId]],
      ["an invalid key", () => ({ key: zeroAddress }), "InvalidAgentKey", () => [zeroAddress]],
      ["a registered key", (s) => ({ key: s.addr.agent }), "AgentKeyInUse", (s) => [s.addr.agent]],
      [
        "an invalid policy",
        (s) => ({ policy: secondPolicy(s, { period: 0 }) }),
        "InvalidPolicy",
        () => ["period must be greater than 0"],
      ],
    ];
    for (const [title, change, name, args] of AFTER) {
      it(`applies grantAgent's checks to a well-signed grant: ${title} gives ${name}, and the nonce is not used`, async function () {
        const s = await networkHelpers.loadFixture(world);
        const grant = grantFor(s, change(s));
        await expectUnchanged(s, async () =>
          expectRevert(submit(s, grant, await signGrant(s, grant)), s.account.abi, name, args(s)),
        );
        expect(await s.account.read.grantNonce()).to.equal(0n);
        const good = grantFor(s);
        await submit(s, good, await signGrant(s, good));
        expect(await s.account.read.grantNonce()).to.equal(1n);
      });
    }
  });

  it("is also reachable through the owner's execute batch, still spending the nonce", async function () {
    const s = await networkHelpers.loadFixture(world);
    const grant = grantFor(s);
    const data = call(s, "grantAgentBySig", [
      grant.agentId,
      grant.key,
      grant.policy,
      grant.deadline,
      await signGrant(s, grant),
    ]);
    await send(s, "owner", s.accountAddress, data);
    expect(await s.account.read.grantNonce()).to.equal(1n);
    expect(await s.account.read.agentOf([s.addr.agent2])).to.equal(ID2);
  });
});

// ---------------------------------------------------------------- ERC-1271 / ERC-7739

describe("isValidSignature (ERC-1271 with ERC-7739)", function () {
  async function erc1271World() {
    const s = await sigWorld();
    const [, name, version, chainId, verifyingContract] = await s.usdc.read.eip712Domain();
    const usdcDomain = { name, version, chainId: Number(chainId), verifyingContract };
    /** An EIP-3009 authorization moving 100 USDC from the account to the stranger: what an agent must never sign. */
    const authorization = {
      from: s.accountAddress,
      to: s.addr.stranger,
      value: USDC(100),
      validAfter: 0n,
      validBefore: 2n ** 40n,
      nonce: keccak256(toHex("nonce 1")),
    };
    const typedData = {
      domain: usdcDomain,
      types: transferWithAuthorizationTypes,
      primaryType: "TransferWithAuthorization" as const,
      message: authorization,
    };
    const digest = hashTypedData(typedData);
    const verifierDomain = (account: Address, chainId_ = s.chainId) => ({
      name: "Stopline",
      version: "1",
      chainId: chainId_,
      verifyingContract: account,
      salt: zeroHash,
    });
    /** A viem wallet client for a role's local key: signs locally, the node is never asked. */
    const client = (role: number) =>
      createWalletClient({
        account: hdKey(role),
        transport: custom({ request: conn.provider.request.bind(conn.provider) }),
      });
    return { ...s, usdcDomain, authorization, typedData, digest, verifierDomain, client };
  }
  type E = Awaited<ReturnType<typeof erc1271World>>;

  const isValid = (s: E, hash: Hex, signature: Hex, account: Address = s.accountAddress) =>
    s.publicClient.readContract({
      address: account,
      abi: s.account.abi,
      functionName: "isValidSignature",
      args: [hash, signature],
    });

  /** The token's EIP-3009 transfer with a bytes signature: it asks the account's isValidSignature. */
  const settle = (s: E, signature: Hex) =>
    s.usdc.write.transferWithAuthorization(
      [
        s.authorization.from,
        s.authorization.to,
        s.authorization.value,
        s.authorization.validAfter,
        s.authorization.validBefore,
        s.authorization.nonce,
        signature,
      ],
      { account: s.wallets.stranger.account },
    );

  const ownerTypedSig = (s: E, account: Address = s.accountAddress, chainId?: number) =>
    sign7739TypedData(s.client(ROLES.owner), { ...s.typedData, verifierDomain: s.verifierDomain(account, chainId) });

  it("reports the account's EIP-712 domain and answers the ERC-7739 support probe", async function () {
    const s = await networkHelpers.loadFixture(erc1271World);
    same(await s.account.read.eip712Domain(), [
      "0x0f",
      "Stopline",
      "1",
      BigInt(s.chainId),
      s.accountAddress,
      zeroHash,
      [],
    ]);
    expect(await isValid(s, "0x7739773977397739773977397739773977397739773977397739773977397739", "0x")).to.equal(
      "0x77390001",
    );
  });

  it("accepts the owner's ERC-7739 typed-data signature, and the token moves the funds on it", async function () {
    const s = await networkHelpers.loadFixture(erc1271World);
    const signature = await ownerTypedSig(s);
    expect(await isValid(s, s.digest, signature)).to.equal(ERC1271_MAGIC);
    const before = await s.usdc.read.balanceOf([s.accountAddress]);
    await settle(s, signature);
    expect(await s.usdc.read.balanceOf([s.accountAddress])).to.equal(before - USDC(100));
    expect(await s.usdc.read.balanceOf([s.addr.stranger])).to.equal(USDC(100));
  });

  it("accepts the owner's ERC-7739 personal-sign signature of a message", async function () {
    const s = await networkHelpers.loadFixture(erc1271World);
    const message = "Sign in to example.com, nonce 42";
    const signature = await sign7739Message(s.client(ROLES.owner), {
      message,
      verifierDomain: s.verifierDomain(s.accountAddress),
    });
    expect(await isValid(s, hashMessage(message), signature)).to.equal(ERC1271_MAGIC);
    expect(await isValid(s, hashMessage("another message"), signature)).to.equal(ERC1271_INVALID);
  });

  describe("refuses every agent key signature (THREATS class 2)", function () {
    const AGENT_SIGS: [string, (s: E) => Promise<Hex>][] = [
      ["a raw ECDSA signature of the hash", (s) => hdKey(ROLES.agent).sign({ hash: s.digest })],
      ["its EIP-712 signature of the authorization", (s) => hdKey(ROLES.agent).signTypedData(s.typedData)],
      [
        "an ERC-7739 typed-data signature",
        (s) =>
          sign7739TypedData(s.client(ROLES.agent), {
            ...s.typedData,
            verifierDomain: s.verifierDomain(s.accountAddress),
          }),
      ],
    ];
    for (const [title, make] of AGENT_SIGS) {
      it(`refuses ${title}, and the token refuses to move funds on it`, async function () {
        const s = await networkHelpers.loadFixture(erc1271World);
        const signature = await make(s);
        expect(await isValid(s, s.digest, signature)).to.equal(ERC1271_INVALID);
        await expectUnchanged(s, () =>
          expectRevert(settle(s, signature), s.usdc.abi, "InvalidAuthorizationSignature", []),
        );
        expect(await s.usdc.read.balanceOf([s.addr.stranger])).to.equal(0n);
      });
    }

    it("refuses its personal_sign and its ERC-7739 personal-sign signature of a message", async function () {
      const s = await networkHelpers.loadFixture(erc1271World);
      const message = "I authorise the payment";
      const personal = await hdKey(ROLES.agent).signMessage({ message });
      const nested = await sign7739Message(s.client(ROLES.agent), {
        message,
        verifierDomain: s.verifierDomain(s.accountAddress),
      });
      expect(await isValid(s, hashMessage(message), personal)).to.equal(ERC1271_INVALID);
      expect(await isValid(s, hashMessage(message), nested)).to.equal(ERC1271_INVALID);
    });

    it("refuses the signatures of a key whose agent was revoked or rotated away, and of every other role", async function () {
      const s = await networkHelpers.loadFixture(erc1271World);
      await s.account.write.grantAgent([ID2, s.addr.agent2, secondPolicy(s)]);
      await s.account.write.rotateAgentKey([s.agentId, s.addr.newKey]);
      await s.account.write.revokeAgent([ID2]);
      await s.account.write.setGuardian([s.addr.guardian]);
      for (const role of [ROLES.agent, ROLES.agent2, ROLES.newKey, ROLES.guardian, ROLES.stranger]) {
        const raw = await hdKey(role).sign({ hash: s.digest });
        const nested = await sign7739TypedData(s.client(role), {
          ...s.typedData,
          verifierDomain: s.verifierDomain(s.accountAddress),
        });
        expect(await isValid(s, s.digest, raw), `raw signature of role ${role}`).to.equal(ERC1271_INVALID);
        expect(await isValid(s, s.digest, nested), `7739 signature of role ${role}`).to.equal(ERC1271_INVALID);
      }
    });
  });

  describe("refuses the owner's signatures that were not made for this account", function () {
    it("refuses a typed-data signature made for another account of the same owner (replay across accounts)", async function () {
      const s = await networkHelpers.loadFixture(erc1271World);
      const signature = await ownerTypedSig(s, s.account2.address);
      expect(await isValid(s, s.digest, signature, s.account2.address)).to.equal(ERC1271_MAGIC);
      expect(await isValid(s, s.digest, signature)).to.equal(ERC1271_INVALID);
      await expectUnchanged(s, () =>
        expectRevert(settle(s, signature), s.usdc.abi, "InvalidAuthorizationSignature", []),
      );
    });

    it("refuses a personal-sign signature made for another account of the same owner", async function () {
      const s = await networkHelpers.loadFixture(erc1271World);
      const message = "Sign in to example.com, nonce 42";
      const signature = await sign7739Message(s.client(ROLES.owner), {
        message,
        verifierDomain: s.verifierDomain(s.account2.address),
      });
      expect(await isValid(s, hashMessage(message), signature, s.account2.address)).to.equal(ERC1271_MAGIC);
      expect(await isValid(s, hashMessage(message), signature)).to.equal(ERC1271_INVALID);
    });

    it("refuses a signature made for this account on another chain", async function () {
      const s = await networkHelpers.loadFixture(erc1271World);
      const signature = await ownerTypedSig(s, s.accountAddress, s.chainId + 1);
      expect(await isValid(s, s.digest, signature)).to.equal(ERC1271_INVALID);
    });

    it("refuses the owner's bare ECDSA signature of the hash and its personal_sign: ERC-7739 needs the nested form", async function () {
      const s = await networkHelpers.loadFixture(erc1271World);
      const raw = await hdKey(ROLES.owner).sign({ hash: s.digest });
      expect(await isValid(s, s.digest, raw)).to.equal(ERC1271_INVALID);
      await expectUnchanged(s, () => expectRevert(settle(s, raw), s.usdc.abi, "InvalidAuthorizationSignature", []));
      const message = "Sign in to example.com, nonce 42";
      expect(await isValid(s, hashMessage(message), await hdKey(ROLES.owner).signMessage({ message }))).to.equal(
        ERC1271_INVALID,
      );
    });

    it("refuses a valid owner signature checked against another hash", async function () {
      const s = await networkHelpers.loadFixture(erc1271World);
      const signature = await ownerTypedSig(s);
      expect(await isValid(s, keccak256(s.digest), signature)).to.equal(ERC1271_INVALID);
    });
  });
});
