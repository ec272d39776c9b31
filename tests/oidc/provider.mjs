// A real OpenID Connect provider on loopback for marketmsg's sign-in tests and `make demo-sso`:
// the certified `oidc-provider` package with its development sign-in form, where any login is
// accepted and becomes the subject (`sub`). Configuration comes from the environment:
//   OIDC_PORT      the port on 127.0.0.1
//   OIDC_CLIENTS   JSON list of clients: {client_id, client_secret, redirect_uris, post_logout_redirect_uris}
//   OIDC_ACCOUNTS  JSON object: login → extra claims (for example {"marketmsg_role": "staff"})
// It prints "ready <issuer>" on stdout once it listens.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 0);
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
const issuer = `http://127.0.0.1:${port}`;

const configuration = {
  clients: clients.map((c) => ({ grant_types: ['authorization_code'], response_types: ['code'], ...c })),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    marketmsg: ['marketmsg_role'],
  },
  scopes: ['openid', 'email', 'profile', 'marketmsg'],
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true, methods: ['S256'] },
  cookies: { keys: ['marketmsg-test-provider-cookie-key'] },
  async findAccount(ctx, id) {
    const extra = accounts[id] || {};
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@idp.example`, email_verified: true, name: id, ...extra };
      },
    };
  },
  // First-party clients: no consent screen, the grant covers what was asked.
  async loadExistingGrant(ctx) {
    const found = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (found) return ctx.oidc.provider.Grant.find(found);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile marketmsg');
    grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'marketmsg_role']);
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
