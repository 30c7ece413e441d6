import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../../errors.js';
import type { ApiDeps } from './api.js';
import { httpError } from './api.js';
import { hashPassword, verifyPassword } from './password-hash.js';

const credentials = {
  type: 'object',
  required: ['email', 'password'],
  additionalProperties: false,
  properties: {
    email: { type: 'string', format: 'email', maxLength: 254 },
    password: { type: 'string', minLength: 8, maxLength: 256 },
  },
} as const;

/**
 * A hash to verify against when the user does not exist, so a login for an unknown e-mail costs
 * the same time as a wrong password and does not reveal which accounts exist.
 */
let decoyHash: Promise<string> | undefined;

export function registerAuthRoutes(api: FastifyInstance, { store, config }: ApiDeps): void {
  api.post('/auth/register', { schema: { body: credentials } }, async (request, reply) => {
    const { email, password } = request.body as { email: string; password: string };
    const user = await store.createUser(
      email.toLowerCase(),
      await hashPassword(password, config.auth.scryptCost),
    );
    return reply.status(201).send({ id: user.id, email: user.email, createdAt: user.createdAt });
  });

  const limit = config.auth.loginRateLimit;
  api.post(
    '/auth/login',
    {
      schema: { body: credentials },
      config: {
        rateLimit: {
          max: limit.max,
          timeWindow: limit.windowSeconds * 1000,
          // Per client and account: one noisy client cannot lock others out, and guessing one
          // account's password from many addresses is still slowed per address.
          keyGenerator: (request) =>
            `${request.ip}|${String((request.body as { email?: string })?.email ?? '').toLowerCase()}`,
          errorResponseBuilder: (_request, ctx) =>
            httpError(429, ErrorCode.RateLimited, `too many logins; retry in ${Math.ceil(ctx.ttl / 1000)} s`),
        },
      },
    },
    async (request) => {
      const { email, password } = request.body as { email: string; password: string };
      const user = await store.findUserByEmail(email.toLowerCase());
      decoyHash ??= hashPassword('decoy-password', config.auth.scryptCost);
      const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash));
      if (!user || !ok) throw httpError(401, ErrorCode.Unauthorized, 'wrong e-mail or password');
      const accessToken = api.jwt.sign({ sub: String(user.id), email: user.email });
      return { accessToken, tokenType: 'Bearer', expiresIn: config.auth.tokenTtlSeconds };
    },
  );

  api.get('/auth/me', { preHandler: api.authenticate }, async (request) => ({
    id: Number(request.user.sub),
    email: request.user.email,
  }));
}
