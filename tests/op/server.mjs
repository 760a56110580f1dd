// OpenID Provider for the integration tests, built on the npm package
// oidc-provider and laid out like an authentik application.
//
// Usage:
//   node server.mjs --cert CERT.pem --key KEY.pem [--port PORT] [--exit-with-stdin] CONFIG.json
//
//   --cert, --key      PEM certificate (chain) and private key for HTTPS. Required.
//   --port             TCP port on 127.0.0.1. Default 0 lets the OS pick a free port.
//   --exit-with-stdin  Exit when standard input reaches end of file, so the server
//                      stops when the test process that spawned it with a piped
//                      stdin exits.
//   CONFIG.json        {"issuer": "...", "clients": [ ...client metadata... ]}.
//                      The first "{{PORT}}" in "issuer" is replaced by the listening port.
//
// Once the server accepts connections it writes exactly one line, "listening PORT",
// to stdout. Everything else, including oidc-provider's notices, goes to stderr.
//
// Endpoint layout, with B the issuer's path without its trailing slash and P the
// parent of B (issuer https://auth.example/application/o/mastodon/ gives
// B = /application/o/mastodon and P = /application/o):
//   discovery      B/.well-known/openid-configuration
//   jwks_uri       B/jwks/
//   end_session    B/end-session/
//   authorization  P/authorize/
//   token          P/token/
//   userinfo       P/userinfo/
// The discovery document builds endpoint URLs from the request's Host header, so a
// client that connects as auth.example:PORT gets https://auth.example:PORT/... URLs.
// Every other /.well-known/ path returns 404, so, as in authentik, discovery at the
// host root is not served unless the issuer is the host root.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';

// oidc-provider prints its notices with console.info, which writes to stdout.
// Stdout is reserved for the "listening PORT" line, so route all console output
// to stderr before oidc-provider is loaded.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const OIDC_DISCOVERY_ROUTE = '/.well-known/openid-configuration';

function fail(message) {
  console.error(`server.mjs: ${message}`);
  process.exit(2);
}

function parseCommandLine() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        cert: { type: 'string' },
        key: { type: 'string' },
        port: { type: 'string', default: '0' },
        'exit-with-stdin': { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
  } catch (err) {
    fail(`${err.message}. Usage: node server.mjs --cert CERT.pem --key KEY.pem [--port PORT] [--exit-with-stdin] CONFIG.json`);
  }

  const { values, positionals } = parsed;
  if (!values.cert) fail('missing --cert PATH (PEM certificate for HTTPS)');
  if (!values.key) fail('missing --key PATH (PEM private key for HTTPS)');
  if (positionals.length !== 1) {
    fail(`expected exactly one CONFIG.json argument, got ${positionals.length}`);
  }

  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`invalid --port ${JSON.stringify(values.port)}: expected an integer from 0 to 65535`);
  }

  return {
    certPath: values.cert,
    keyPath: values.key,
    port,
    exitWithStdin: values['exit-with-stdin'],
    configPath: positionals[0],
  };
}

function readFileOrFail(path, description) {
  try {
    return readFileSync(path);
  } catch (err) {
    return fail(`failed to read ${description} ${path}: ${err.message}`);
  }
}

function loadConfig(path) {
  let config;
  try {
    config = JSON.parse(readFileOrFail(path, 'config').toString('utf8'));
  } catch (err) {
    fail(`invalid JSON in config ${path}: ${err.message}`);
  }

  if (typeof config?.issuer !== 'string' || !config.issuer) {
    fail(`config ${path}: "issuer" must be a non-empty string`);
  }
  if (!Array.isArray(config.clients) || config.clients.length === 0) {
    fail(`config ${path}: "clients" must be a non-empty array of client metadata objects`);
  }

  return config;
}

// Returns the paths of every endpoint for an issuer path (see the layout above).
function endpointPaths(issuerPath) {
  const base = issuerPath.replace(/\/$/, '');
  const parent = base.slice(0, base.lastIndexOf('/') + 1) || '/';

  return {
    discovery: `${base}${OIDC_DISCOVERY_ROUTE}`,
    routes: {
      authorization: `${parent}authorize/`,
      token: `${parent}token/`,
      userinfo: `${parent}userinfo/`,
      jwks: `${base}/jwks/`,
      end_session: `${base}/end-session/`,
    },
  };
}

function generateSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomUUID(),
    alg: 'RS256',
    use: 'sig',
  };
}

// Test accounts are made up on demand: any account id that completes a login
// exists, and its claims are derived from the id.
async function findAccount(ctx, accountId) {
  return {
    accountId,
    async claims() {
      return {
        sub: accountId,
        preferred_username: accountId,
        name: accountId,
        email: `${accountId}@auth.example`,
        email_verified: true,
      };
    },
  };
}

function logProviderErrors(provider) {
  const events = [
    'authorization.error',
    'grant.error',
    'userinfo.error',
    'discovery.error',
    'jwks.error',
    'end_session.error',
  ];
  for (const event of events) {
    provider.on(event, (ctx, err) => {
      const clientId = ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id ?? '-';
      console.error(`${event}: ${err.error ?? err.name}: ${err.error_description ?? err.message} (client_id ${clientId}${err.error_detail ? `, ${err.error_detail}` : ''})`);
    });
  }
  provider.on('server_error', (ctx, err) => {
    console.error(`server_error on ${ctx.method} ${ctx.path}:`, err);
  });
}

async function createProvider(issuer, clients, paths) {
  // Imported here, after the console redirect above and after the command line
  // and config have been checked.
  const { Provider } = await import('oidc-provider');

  let provider;
  try {
    provider = new Provider(issuer, {
      clients,
      findAccount,
      jwks: { keys: [generateSigningKey()] },
      cookies: { keys: [randomBytes(32).toString('hex')] },
      routes: paths.routes,
      // Pushed authorization requests are on by default and would add an endpoint
      // outside the authentik layout.
      features: {
        pushedAuthorizationRequests: { enabled: false },
      },
      claims: {
        openid: ['sub'],
        profile: ['name', 'preferred_username'],
        email: ['email', 'email_verified'],
      },
      // Mastodon sends PKCE only when OIDC_USE_PKCE=true (config/omniauth.yml, off
      // by default), so PKCE is required from public clients only. This is also
      // oidc-provider 9.13.3's default outside FAPI profiles, set here so that an
      // upgrade cannot change it.
      pkce: {
        required: (ctx, client) => client.clientAuthMethod === 'none',
      },
    });
  } catch (err) {
    fail(`invalid provider configuration: ${err.message}`);
  }

  // oidc-provider validates static client metadata on first use. Look every
  // client up now so that invalid metadata stops the server at start.
  for (const { client_id: clientId } of clients) {
    try {
      await provider.Client.find(clientId);
    } catch (err) {
      fail(`invalid metadata for client ${JSON.stringify(clientId)}: ${err.error_description ?? err.message}`);
    }
  }

  // oidc-provider serves discovery at a fixed route. Map the issuer-relative
  // discovery path onto it and return 404 for every other /.well-known/ path.
  provider.use(async (ctx, next) => {
    if (ctx.path === paths.discovery) {
      ctx.path = OIDC_DISCOVERY_ROUTE;
    } else if (ctx.path.startsWith('/.well-known/')) {
      ctx.status = 404;
      return;
    }
    await next();
  });

  logProviderErrors(provider);
  return provider;
}

async function main() {
  const options = parseCommandLine();
  const config = loadConfig(options.configPath);
  const tls = {
    cert: readFileOrFail(options.certPath, 'certificate'),
    key: readFileOrFail(options.keyPath, 'private key'),
  };

  let server;
  try {
    server = createServer(tls);
  } catch (err) {
    fail(`failed to set up HTTPS with ${options.certPath} and ${options.keyPath}: ${err.message}`);
  }

  // Listen first, because the issuer may contain the port, and oidc-provider
  // takes the issuer only at construction. A request that arrives before the
  // handler is attached gets no response, so a test must wait for "listening".
  await new Promise((resolve) => {
    server.once('error', (err) => fail(`failed to listen on 127.0.0.1:${options.port}: ${err.message}`));
    server.listen(options.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  const issuer = config.issuer.replace('{{PORT}}', String(port));
  let issuerPath;
  try {
    issuerPath = new URL(issuer).pathname;
  } catch {
    fail(`invalid issuer URL ${JSON.stringify(issuer)}`);
  }

  const paths = endpointPaths(issuerPath);
  const provider = await createProvider(issuer, config.clients, paths);
  server.on('request', provider.callback());
  server.on('tlsClientError', (err) => console.error(`TLS handshake failed: ${err.message}`));

  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      console.error(`received ${signal}, stopping`);
      process.exit(0);
    });
  }
  if (options.exitWithStdin) {
    process.stdin.on('end', () => {
      console.error('standard input closed, stopping');
      process.exit(0);
    });
    process.stdin.resume();
  }

  console.error(`issuer ${issuer}, discovery at ${paths.discovery}`);
  process.stdout.write(`listening ${port}\n`);
}

await main();
