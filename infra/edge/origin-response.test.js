'use strict';
// Tests of the front door's origin-response function (origin-response/
// index.js) on CloudFront's event shape, run by `make infra-test`.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const edge = require('./origin-response/index.js');

// event builds an origin-response event; headers are {Name: value}.
function event(method, uri, status, headers, requestHeaders = {}) {
  const cf = (hs) =>
    Object.fromEntries(Object.entries(hs).map(([k, v]) => [k.toLowerCase(), [{ key: k, value: v }]]));
  return {
    Records: [{
      cf: {
        config: { distributionDomainName: 'd111111abcdef8.cloudfront.net', eventType: 'origin-response' },
        request: { method, uri, querystring: '', headers: cf(requestHeaders) },
        response: { status: String(status), statusDescription: 'x', headers: cf(headers) },
      },
    }],
  };
}

function value(res, name) {
  const h = res.headers[name.toLowerCase()];
  return h ? h.map((v) => v.value).join(',') : undefined;
}

const challenge = 'Bearer realm="https://abc.execute-api.eu-west-1.amazonaws.com/token",service="berth"';
const registry = { 'Docker-Distribution-API-Version': 'registry/2.0', 'Content-Type': 'application/json' };
const upload = '/v2/acme/app/blobs/uploads/u1';

test('a renamed challenge is copied back to WWW-Authenticate', async () => {
  const res = await edge.handler(event('GET', '/v2/', 401, { ...registry, 'x-amzn-Remapped-WWW-Authenticate': challenge }));
  assert.equal(value(res, 'WWW-Authenticate'), challenge);
  assert.equal(res.headers['www-authenticate'][0].key, 'WWW-Authenticate');
  assert.equal(res.status, '401');
});

test('a challenge that arrived intact is left alone', async () => {
  const res = await edge.handler(event('GET', '/v2/', 401,
    { ...registry, 'WWW-Authenticate': challenge, 'x-amzn-Remapped-WWW-Authenticate': 'Basic realm="other"' }));
  assert.equal(value(res, 'WWW-Authenticate'), challenge);
});

test('HEAD length is restored from X-Berth-Content-Length', async (t) => {
  for (const [name, length] of [['zero', '0'], ['missing', undefined]]) {
    await t.test(name, async () => {
      const hs = { ...registry, 'X-Berth-Content-Length': '547', 'Docker-Content-Digest': 'sha256:ab' };
      if (length !== undefined) hs['Content-Length'] = length;
      const res = await edge.handler(event('HEAD', '/v2/acme/app/manifests/v1', 200, hs));
      assert.equal(value(res, 'Content-Length'), '547');
    });
  }
});

test('a HEAD length the gateway kept, and a GET, are left alone', async () => {
  let res = await edge.handler(event('HEAD', '/v2/acme/app/manifests/v1', 200,
    { ...registry, 'Content-Length': '547', 'X-Berth-Content-Length': '999' }));
  assert.equal(value(res, 'Content-Length'), '547');
  res = await edge.handler(event('GET', '/v2/acme/app/manifests/v1', 200,
    { ...registry, 'Content-Length': '0', 'X-Berth-Content-Length': '547' }));
  assert.equal(value(res, 'Content-Length'), '0');
});

function assertRegistryError(res, status, want) {
  assert.equal(res.status, status);
  assert.equal(value(res, 'Content-Type'), 'application/json');
  assert.equal(value(res, 'Docker-Distribution-API-Version'), 'registry/2.0');
  assert.equal(value(res, 'Content-Length'), String(Buffer.byteLength(res.body)));
  const body = JSON.parse(res.body);
  assert.equal(body.errors.length, 1);
  assert.equal(body.errors[0].code, 'UNSUPPORTED');
  assert.match(body.errors[0].message, want);
  assert.ok(body.errors[0].message.endsWith(edge.GUIDANCE), 'message ends with the registry guidance');
}

test("the gateway's bare 413 becomes the registry's UNSUPPORTED with its guidance", async () => {
  const res = await edge.handler(event('PATCH', upload, 413,
    { 'Content-Type': 'application/json', 'Content-Length': '32' }, { 'Content-Length': '11534336' }));
  assertRegistryError(res, '413', /the request \(11534336 body bytes\) is over what API Gateway and Lambda accept/);
});

test('a bare 500 on an upload route becomes UNSUPPORTED, status kept', async () => {
  const res = await edge.handler(event('PUT', upload + '?digest=sha256:ab', 500, { 'Content-Type': 'application/json' }));
  assertRegistryError(res, '500', /Lambda's 6 MB invoke payload limit/);
});

test("the registry's own errors and other routes' 500s pass unchanged", async (t) => {
  const cases = [
    ['registry 413', event('PATCH', upload, 413, { ...registry, 'Content-Length': '400' })],
    ['registry 500 on upload', event('PATCH', upload, 500, registry)],
    ['bare 500 elsewhere', event('GET', '/v2/acme/app/manifests/v1', 500, { 'Content-Type': 'application/json' })],
    ['bare 503 on upload', event('PATCH', upload, 503, { 'Content-Type': 'application/json' })],
  ];
  for (const [name, ev] of cases) {
    await t.test(name, async () => {
      const before = JSON.stringify(ev.Records[0].cf.response);
      const res = await edge.handler(ev);
      assert.equal(JSON.stringify(res), before);
      assert.equal(res.body, undefined);
    });
  }
});

test('a bare 413 on HEAD gets the registry headers and no body', async () => {
  const res = await edge.handler(event('HEAD', upload, 413, { 'Content-Type': 'application/json' }));
  assert.equal(res.status, '413');
  assert.equal(value(res, 'Docker-Distribution-API-Version'), 'registry/2.0');
  assert.equal(res.body, undefined);
});

test("the guidance is shared/gateway's tooLarge text, word for word", () => {
  const src = fs.readFileSync(path.join(__dirname, '..', '..', 'shared', 'gateway', 'gateway.go'), 'utf8');
  const m = src.match(/func tooLarge[\s\S]*?"%s\. ([^"]*)"/);
  assert.ok(m, 'tooLarge found in shared/gateway/gateway.go');
  assert.equal(edge.GUIDANCE, m[1]);
});
