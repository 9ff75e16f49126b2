import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../logger.ts';

/** Readiness is a question the process answers: false before start-up completes and while draining. */
export interface Readiness {
  ready(): boolean;
}

/** Health, readiness and everything that is not the admission path. */
export function createOpsApp(readiness: Readiness, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    if (readiness.ready()) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send('not ready');
  });
  app.all('/mutate', (_req, res) => {
    res.status(405).set('allow', 'POST').json({ code: 'METHOD_NOT_ALLOWED', message: 'use POST /mutate' });
  });
  app.use((_req, res) => {
    res.status(404).json({ code: 'NOT_FOUND', message: 'no such endpoint' });
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: err.message }, 'ops request failed');
    res.status(500).json({ code: 'INTERNAL', message: 'internal error' });
  });
  return app;
}
