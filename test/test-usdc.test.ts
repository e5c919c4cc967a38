// contracts/tokens/TestUSDC.sol, the token of the demo and of the toolkit's examples (its ABI ships as testUsdcAbi):
// EIP-3009 transfers and receipts with authorization in both signature forms, cancellation, the time window, replay,
// the payee rule, and owner-only minting. Each refusal is asserted with its exact custom error and arguments, and with
// balances and the authorization state unchanged.
import { expect } from "chai";
import { network } from "hardhat";
import { type Address, type Hex, getAddress, keccak256, parseSignature, toHex } from "viem";

import { expectRevert } from "./helpers/admin.js";
import { ROLES, USDC } from "./helpers/stopline.js";

const conn = await network.create();
const { viem, networkHelpers } = conn;

const AUTH_FIELDS = [
  { name: "from", type: "address" },
  { name: "to", type: "address" },
  { name: "value", type: "uint256" },
  { name: "validAfter", type: "uint256" },
  { name: "validBefore", type: "uint256" },
  { name: "nonce", type: "bytes32" },
] as const;
const TYPES = {
  TransferWithAuthorization: AUTH_FIELDS,
  ReceiveWithAuthorization: AUTH_FIELDS,
  CancelAuthorization: [
    { name: "authorizer", type: "address" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

async function world() {
  const wallets = await viem.getWalletClients();
  const [deployer, payer, payee, stranger] = [
    wallets[ROLES.deployer],
    wallets[ROLES.merchantA],
    wallets[ROLES.merchantB],
    wallets[ROLES.stranger],
  ];
  const usdc = await viem.deployContract("TestUSDC", [deployer.account.address]);
  await usdc.write.mint([payer.account.address, USDC(1_000)]);
  const publicClient = await viem.getPublicClient();
  const domain = {
    name: "USDC",
    version: "1",
    chainId: await publicClient.getChainId(),
    verifyingContract: usdc.address,
  } as const;
  const now = (await publicClient.getBlock()).timestamp;
  return { deployer, payer, payee, stranger, usdc, publicClient, domain, now };
}
type World = Awaited<ReturnType<typeof world>>;
const load = () => networkHelpers.loadFixture(world);

type Auth = { from: Address; to: Address; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex };
const nonceOf = (label: string): Hex => keccak256(toHex(label));

function auth(w: World, o: Partial<Auth> = {}): Auth {
  return {
    from: w.payer.account.address,
    to: w.payee.account.address,
    value: USDC(40),
    validAfter: w.now - 10n,
    validBefore: w.now + 3_600n,
    nonce: nonceOf("first"),
    ...o,
  };
}

async function signAuth(
  w: World,
  kind: "TransferWithAuthorization" | "ReceiveWithAuthorization",
  a: Auth,
  signer = w.payer,
): Promise<Hex> {
  return signer.signTypedData({
    account: signer.account,
    domain: w.domain,
    types: TYPES,
    primaryType: kind,
    message: a,
  });
}

async function balances(w: World) {
  return Promise.all([w.payer, w.payee, w.stranger].map((x) => w.usdc.read.balanceOf([x.account.address]))) as Promise<
    bigint[]
  >;
}

/** Sends a call that must be refused and checks that no balance moved and the nonce is in the state it was. */
async function refused(w: World, a: Auth, call: () => Promise<unknown>, name: string, args: readonly unknown[]) {
  const before = await balances(w);
  const used = await w.usdc.read.authorizationState([a.from, a.nonce]);
  await expectRevert(call(), w.usdc.abi, name, args);
  expect(await balances(w)).to.deep.equal(before);
  expect(await w.usdc.read.authorizationState([a.from, a.nonce])).to.equal(used);
}

async function expectUsed(w: World, hash: Hex, event: "AuthorizationUsed" | "AuthorizationCanceled", a: Auth) {
  const receipt = await w.publicClient.waitForTransactionReceipt({ hash });
  const events = await w.usdc.getEvents[event]({}, { blockHash: receipt.blockHash });
  expect(events.map((e) => e.args)).to.deep.equal([{ authorizer: getAddress(a.from), nonce: a.nonce }]);
  expect(await w.usdc.read.authorizationState([a.from, a.nonce])).to.equal(true);
}

describe("TestUSDC (EIP-3009 and EIP-2612 test dollar)", function () {
  it("has 6 decimals and lets only its owner mint", async function () {
    const w = await load();
    expect(await w.usdc.read.decimals()).to.equal(6);
    await expectRevert(
      w.usdc.write.mint([w.stranger.account.address, 1n], { account: w.stranger.account }),
      w.usdc.abi,
      "OwnableUnauthorizedAccount",
      [w.stranger.account.address],
    );
    expect(await w.usdc.read.balanceOf([w.stranger.account.address])).to.equal(0n);
  });

  for (const form of ["bytes signature", "v, r, s"] as const) {
    it(`transferWithAuthorization (${form}): anyone submits, the funds move once, the nonce is used`, async function () {
      const w = await load();
      const a = auth(w);
      const sig = await signAuth(w, "TransferWithAuthorization", a);
      expect(await w.usdc.read.authorizationState([a.from, a.nonce])).to.equal(false);
      const args = [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce] as const;
      const { v, r, s } = parseSignature(sig);
      const submit = () =>
        form === "bytes signature"
          ? w.usdc.write.transferWithAuthorization([...args, sig], { account: w.stranger.account })
          : w.usdc.write.transferWithAuthorization([...args, Number(v), r, s], { account: w.stranger.account });
      await expectUsed(w, await submit(), "AuthorizationUsed", a);
      expect(await balances(w)).to.deep.equal([USDC(960), USDC(40), 0n]);
      // a replay of the same authorization
      await refused(w, a, submit, "AuthorizationAlreadyUsed", [getAddress(a.from), a.nonce]);
    });

    it(`receiveWithAuthorization (${form}): only the payee may submit`, async function () {
      const w = await load();
      const a = auth(w, { nonce: nonceOf("receive") });
      const sig = await signAuth(w, "ReceiveWithAuthorization", a);
      const args = [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce] as const;
      const { v, r, s } = parseSignature(sig);
      const submit = (from: World["payee"]) =>
        form === "bytes signature"
          ? w.usdc.write.receiveWithAuthorization([...args, sig], { account: from.account })
          : w.usdc.write.receiveWithAuthorization([...args, Number(v), r, s], { account: from.account });
      await refused(w, a, () => submit(w.stranger), "CallerMustBePayee", [
        w.stranger.account.address,
        getAddress(a.to),
      ]);
      await expectUsed(w, await submit(w.payee), "AuthorizationUsed", a);
      expect(await balances(w)).to.deep.equal([USDC(960), USDC(40), 0n]);
      await refused(w, a, () => submit(w.payee), "AuthorizationAlreadyUsed", [getAddress(a.from), a.nonce]);
    });
  }

  it("a receive authorization cannot be used as a transfer authorization (the type is signed)", async function () {
    const w = await load();
    const a = auth(w);
    const sig = await signAuth(w, "ReceiveWithAuthorization", a);
    const call = () =>
      w.usdc.write.transferWithAuthorization([a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig], {
        account: w.payee.account,
      });
    await refused(w, a, call, "InvalidAuthorizationSignature", []);
  });

  it("refuses an authorization signed by someone other than `from`", async function () {
    const w = await load();
    const a = auth(w);
    const sig = await signAuth(w, "TransferWithAuthorization", a, w.stranger);
    const call = () =>
      w.usdc.write.transferWithAuthorization([a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig]);
    await refused(w, a, call, "InvalidAuthorizationSignature", []);
  });

  it("is valid strictly after validAfter and strictly before validBefore", async function () {
    const w = await load();
    const at = w.now + 1_000n;
    const a = auth(w, { validAfter: at, validBefore: at + 2n });
    const sig = await signAuth(w, "TransferWithAuthorization", a);
    const submit = () =>
      w.usdc.write.transferWithAuthorization([a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig]);
    await networkHelpers.time.setNextBlockTimestamp(at);
    await refused(w, a, submit, "AuthorizationNotYetValid", [at]);
    await networkHelpers.time.setNextBlockTimestamp(at + 2n);
    await refused(w, a, submit, "AuthorizationExpired", [at + 2n]);
    // the one second in between (at + 1), on a fresh chain state
    const w2 = await load();
    await networkHelpers.time.setNextBlockTimestamp(at + 1n);
    const hash = await w2.usdc.write.transferWithAuthorization([
      a.from,
      a.to,
      a.value,
      a.validAfter,
      a.validBefore,
      a.nonce,
      sig,
    ]);
    await expectUsed(w2, hash, "AuthorizationUsed", a);
    expect(await balances(w2)).to.deep.equal([USDC(960), USDC(40), 0n]);
  });

  it("cancelAuthorization: the authorizer's signature burns a nonce, which then cannot pay or be canceled again", async function () {
    const w = await load();
    const a = auth(w, { nonce: nonceOf("to cancel") });
    const cancel = { authorizer: a.from, nonce: a.nonce };
    const sign = (signer: World["payer"]) =>
      signer.signTypedData({
        account: signer.account,
        domain: w.domain,
        types: TYPES,
        primaryType: "CancelAuthorization",
        message: cancel,
      });
    // signed by someone else
    await refused(
      w,
      a,
      async () => w.usdc.write.cancelAuthorization([a.from, a.nonce, await sign(w.stranger)]),
      "InvalidAuthorizationSignature",
      [],
    );
    const sig = await sign(w.payer);
    await expectUsed(
      w,
      await w.usdc.write.cancelAuthorization([a.from, a.nonce, sig], { account: w.stranger.account }),
      "AuthorizationCanceled",
      a,
    );
    await refused(w, a, () => w.usdc.write.cancelAuthorization([a.from, a.nonce, sig]), "AuthorizationAlreadyUsed", [
      getAddress(a.from),
      a.nonce,
    ]);
    const pay = await signAuth(w, "TransferWithAuthorization", a);
    await refused(
      w,
      a,
      () => w.usdc.write.transferWithAuthorization([a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, pay]),
      "AuthorizationAlreadyUsed",
      [getAddress(a.from), a.nonce],
    );
    expect(await balances(w)).to.deep.equal([USDC(1_000), 0n, 0n]);
  });
});
