// The few express 5 types the x402 tests and the demo use (express ships no types, and @types/express is not a
// dependency): an app that takes middleware and handlers, listens, and parses JSON bodies.
declare module "express" {
  import type { IncomingMessage, Server, ServerResponse } from "node:http";

  export interface Request extends IncomingMessage {
    body: unknown;
    path: string;
  }
  export interface Response extends ServerResponse {
    json(body: unknown): Response;
    status(code: number): Response;
  }
  export type NextFunction = (error?: unknown) => void;
  export type Handler = (req: Request, res: Response, next: NextFunction) => unknown;
  export interface Express {
    (req: IncomingMessage, res: ServerResponse): void;
    use(...handlers: Handler[]): Express;
    get(path: string, ...handlers: Handler[]): Express;
    post(path: string, ...handlers: Handler[]): Express;
    listen(port: number, host: string, callback?: () => void): Server;
  }
  interface ExpressFactory {
    (): Express;
    json(): Handler;
  }
  const express: ExpressFactory;
  export default express;
}
