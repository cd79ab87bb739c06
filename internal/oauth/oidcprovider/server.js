// Test-only OpenID provider for Gatehouse's interoperability tests: panva's
// oidc-provider with its defaults plus rotating refresh tokens, introspection,
// revocation, client credentials and resource indicators. It is started by the Go
// tests in this folder (see harness_test.go); it is never part of a deployment.
//
// Usage: node server.js CONFIG.json
// CONFIG holds: tlsCert, tlsKey (PEM file paths), accessTokenTTL (seconds),
// adminToken, resources (accepted RFC 8707 resource indicators; the first is the
// default when a request names none), clients (oidc-provider client metadata),
// clientAuthMethods (optional: replaces oidc-provider's list, and so its metadata),
// keepAliveTimeoutMs (idle keep-alive close, default 65000).
// It listens on 127.0.0.1 on a free port and prints one line
// "oidc-provider listening on https://127.0.0.1:PORT" when it is ready.
//
// Interactions are headless: /interaction/:uid logs in the account named by the
// X-Test-Account request header and grants every requested scope and resource.
// Admin endpoints (Authorization: Bearer adminToken):
//   GET  /admin/events              token-endpoint outcomes, in order
//   POST /admin/revoke?account=ID   destroys that account's grants (consent revoked)
import fs from 'node:fs';
import https from 'node:https';
import Provider, { errors } from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ttl = Number(process.env.OIDC_ACCESS_TOKEN_TTL || cfg.accessTokenTTL || 3);
const resources = cfg.resources || [];
const grantsByAccount = new Map();
const events = [];

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = https.createServer({
  cert: fs.readFileSync(cfg.tlsCert),
  key: fs.readFileSync(cfg.tlsKey),
}, (req, res) => handler(req, res));
// Node closes idle keep-alive connections after 5 s by default, the same order as the
// tests' access-token lifetimes, so a renewal would race the close of the connection
// it reuses. Production servers keep idle connections far longer (60 s and more).
server.keepAliveTimeout = Number(cfg.keepAliveTimeoutMs || 65000);
server.headersTimeout = server.keepAliveTimeout + 1000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: cfg.clients,
    rotateRefreshToken: true,
    ...(cfg.clientAuthMethods ? { clientAuthMethods: cfg.clientAuthMethods } : {}),
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf || resources[0],
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (!resources.includes(indicator)) throw new errors.InvalidTarget();
          return { scope: 'api.read', accessTokenFormat: 'opaque', accessTokenTTL: ttl };
        },
      },
    },
    scopes: ['openid', 'offline_access', 'api.read'],
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  });
  provider.proxy = false;

  const record = (ctx, error) => {
    const rt = ctx.oidc?.entities?.RefreshToken;
    events.push({
      grant_type: ctx.oidc?.params?.grant_type || '',
      client_id: ctx.oidc?.client?.clientId || '',
      account: rt?.accountId || ctx.oidc?.entities?.AuthorizationCode?.accountId || '',
      error: error ? (error.error || String(error)) : '',
      error_description: error ? (error.error_description || '') : '',
    });
  };
  provider.on('grant.success', (ctx) => record(ctx));
  provider.on('grant.error', (ctx, err) => record(ctx, err));

  provider.use(async (ctx, next) => {
    if (ctx.path.startsWith('/admin/')) {
      if (ctx.get('authorization') !== `Bearer ${cfg.adminToken}`) {
        ctx.status = 401;
        return;
      }
      if (ctx.method === 'GET' && ctx.path === '/admin/events') {
        ctx.body = events;
        return;
      }
      if (ctx.method === 'POST' && ctx.path === '/admin/revoke') {
        const account = ctx.query.account;
        const ids = [...(grantsByAccount.get(account) || [])];
        for (const id of ids) {
          const grant = await provider.Grant.find(id);
          if (grant) await grant.destroy();
          await provider.RefreshToken.revokeByGrantId(id);
          await provider.AccessToken.revokeByGrantId(id);
        }
        grantsByAccount.delete(account);
        ctx.body = { revoked: ids.length };
        return;
      }
      ctx.status = 404;
      return;
    }
    if (ctx.method === 'GET' && ctx.path.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      const { prompt, params, session } = details;
      if (prompt.name === 'login') {
        const account = ctx.get('x-test-account');
        if (!account) {
          ctx.status = 400;
          ctx.body = 'X-Test-Account header missing';
          return;
        }
        await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
        return;
      }
      if (prompt.name === 'consent') {
        const d = prompt.details;
        let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
        if (!grant) grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
        if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
        if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
        if (d.missingResourceScopes) {
          for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
            grant.addResourceScope(indicator, scopes.join(' '));
          }
        }
        const grantId = await grant.save();
        if (!grantsByAccount.has(session.accountId)) grantsByAccount.set(session.accountId, new Set());
        grantsByAccount.get(session.accountId).add(grantId);
        await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return;
      }
      ctx.status = 400;
      ctx.body = `unsupported prompt ${prompt.name}`;
      return;
    }
    await next();
  });

  handler = provider.callback();
  console.log(`oidc-provider listening on ${issuer}`);
});

process.on('SIGTERM', () => {
  server.closeAllConnections();
  process.exit(0);
});
