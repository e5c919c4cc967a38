// A local x402 world around a chain: a facilitator (the official @x402/core facilitator with @x402/evm's exact scheme
// and a viem wallet, served over HTTP as /verify, /settle and /supported) and a resource server (express with the
// official @x402/express middleware) whose routes charge in a given EIP-3009 token. Both listen on free 127.0.0.1
// ports and close with `close()`. Used by test/e2e-x402.test.ts and scripts/demo.ts.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

import { x402Facilitator } from "@x402/core/facilitator";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmFacilitatorScheme } from "@x402/evm/exact/facilitator";
import { ExactEvmScheme as ExactEvmServerScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import express, { type Express } from "express";
import { type Account, type Address, type Chain, type Transport, type WalletClient, publicActions } from "viem";

/** One paid route: `GET path` answers `body` once `price` (token units) is paid to `payTo`. */
export type PaidRoute = { path: string; price: bigint; payTo: Address; body: unknown; description?: string };

export type X402Services = {
  /** The resource server's base URL (`${url}${route.path}`). */
  url: string;
  facilitatorUrl: string;
  /** The x402 network id, `eip155:<chainId>`. */
  network: `eip155:${number}`;
  /** Every settlement the facilitator answered, in order (success or not). */
  settlements: { success: boolean; transaction: string; errorReason?: string | undefined }[];
  /** Every verification the facilitator refused, with its reason. */
  refusals: { invalidReason?: string | undefined }[];
  close: () => Promise<void>;
};

async function listen(app: Express): Promise<{ server: Server; url: string }> {
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}` });
    });
  });
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/**
 * Starts the facilitator (settling with `facilitatorWallet`, which pays the gas) and the resource server.
 * `token` is the EIP-3009 token the routes charge in, with its EIP-712 name and version.
 */
export async function startX402Services(p: {
  facilitatorWallet: WalletClient<Transport, Chain, Account>;
  token: { address: Address; name: string; version: string };
  routes: PaidRoute[];
}): Promise<X402Services> {
  const chainId = p.facilitatorWallet.chain.id;
  const network = `eip155:${chainId}` as const;
  const settlements: X402Services["settlements"] = [];
  const refusals: X402Services["refusals"] = [];

  const signerClient = p.facilitatorWallet.extend(publicActions);
  const signer = toFacilitatorEvmSigner(
    Object.assign(signerClient, { address: p.facilitatorWallet.account.address }) as never,
    { confirmationTimeoutMs: 30_000 },
  );
  const facilitator = new x402Facilitator().register(network, new ExactEvmFacilitatorScheme(signer));
  const fapp = express();
  fapp.use(express.json());
  fapp.get("/supported", (_req, res) => res.json(facilitator.getSupported()));
  fapp.post("/verify", async (req, res) => {
    const { paymentPayload, paymentRequirements } = req.body as never;
    const result = await facilitator.verify(paymentPayload, paymentRequirements);
    if (!result.isValid) refusals.push({ invalidReason: result.invalidReason });
    res.json(result);
  });
  fapp.post("/settle", async (req, res) => {
    const { paymentPayload, paymentRequirements } = req.body as never;
    const result = await facilitator.settle(paymentPayload, paymentRequirements);
    settlements.push({ success: result.success, transaction: result.transaction, errorReason: result.errorReason });
    res.json(result);
  });
  const f = await listen(fapp);

  const resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: f.url })).register(
    network,
    new ExactEvmServerScheme(),
  );
  const routes = Object.fromEntries(
    p.routes.map((r) => [
      `GET ${r.path}`,
      {
        accepts: {
          scheme: "exact",
          network,
          payTo: r.payTo,
          price: {
            amount: r.price.toString(),
            asset: p.token.address,
            extra: { name: p.token.name, version: p.token.version },
          },
          maxTimeoutSeconds: 60,
        },
        description: r.description ?? r.path,
        mimeType: "application/json",
      },
    ]),
  );
  const app = express();
  app.use(paymentMiddleware(routes, resourceServer));
  for (const r of p.routes) app.get(r.path, (_req, res) => res.json(r.body));
  const s = await listen(app);

  return {
    url: s.url,
    facilitatorUrl: f.url,
    network,
    settlements,
    refusals,
    close: async () => {
      await closeServer(s.server);
      await closeServer(f.server);
    },
  };
}
