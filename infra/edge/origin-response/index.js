'use strict';
// Berth's CloudFront front door: the Lambda@Edge origin-response function
// (docs/doctor.md, "The CloudFront front door"). It runs on every answer
// the HTTP API gives, errors included (CloudFront Functions would not:
// they skip origin responses >= 400), and never sees the body (origin
// responses do not expose it; a replacement body is allowed). The stack
// inlines this file (infra/frontdoor.go); edge/origin-response.test.js
// tests it with node:test. Lambda@Edge takes no environment variables,
// so everything it needs is here.

// The registry's guidance for a request over the platform's limits; the
// same words as shared/gateway's tooLarge, so a client sees one message
// whichever side refused the request.
const GUIDANCE =
  'Send blobs in chunks of at most the OCI-Chunk-Max-Length the upload advertises (PATCH), ' +
  'or push with `berth push` or through `berth proxy`, which upload large layers straight to ' +
  'storage (see README: Large layers)';

const UPLOAD_PATH = /^\/v2\/.+\/blobs\/uploads(\/|$)/;

function header(headers, name) {
  const h = headers[name];
  return h && h.length > 0 ? h[0].value : undefined;
}

function set(headers, key, value) {
  headers[key.toLowerCase()] = [{ key, value: String(value) }];
}

// bareLimitError says why the API answered for the function, or '' when
// it did not. Every answer a Berth function writes carries
// Docker-Distribution-API-Version; API Gateway's own answers (413
// {"message":"Request Too Long"}, 500 {"message":"Internal Server
// Error"}) do not. A 500 counts only on an upload route, where an event
// over Lambda's 6 MB invoke limit is the likely cause.
function bareLimitError(request, response) {
  if (header(response.headers, 'docker-distribution-api-version') !== undefined) {
    return '';
  }
  const length = header(request.headers, 'content-length');
  const sized = length ? `the request (${length} body bytes)` : 'the request';
  if (response.status === '413') {
    return `${sized} is over what API Gateway and Lambda accept in one request (API Gateway answered 413 before the registry saw it)`;
  }
  if (response.status === '500' && UPLOAD_PATH.test(request.uri)) {
    return `API Gateway failed ${sized} before the registry saw it (500); an upload request whose base64-encoded event is over Lambda's 6 MB invoke payload limit fails this way`;
  }
  return '';
}

// fix rewrites one origin response in place and returns it.
function fix(request, response) {
  const h = response.headers;
  // REST APIs and Function URLs rename a function's WWW-Authenticate;
  // docker and containerd send credentials only after the challenge.
  const remapped = h['x-amzn-remapped-www-authenticate'];
  if (remapped && !h['www-authenticate']) {
    h['www-authenticate'] = remapped.map((v) => ({ key: 'WWW-Authenticate', value: v.value }));
  }
  // containerd takes a manifest's size from a HEAD's Content-Length; the
  // functions repeat it as X-Berth-Content-Length (shared/lambdahttp).
  const copy = header(h, 'x-berth-content-length');
  const length = header(h, 'content-length');
  if (request.method === 'HEAD' && copy !== undefined && (length === undefined || length === '0')) {
    set(h, 'Content-Length', copy);
  }
  const what = bareLimitError(request, response);
  if (what) {
    // The status stays; body and headers as shared/errcode writes them
    // (a HEAD answer gets the headers only).
    set(h, 'Content-Type', 'application/json');
    set(h, 'Docker-Distribution-API-Version', 'registry/2.0');
    if (request.method !== 'HEAD') {
      response.body = JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: `${what}. ${GUIDANCE}` }] });
      response.bodyEncoding = 'text';
      set(h, 'Content-Length', Buffer.byteLength(response.body));
    }
  }
  return response;
}

exports.GUIDANCE = GUIDANCE;
exports.fix = fix;
exports.handler = async (event) => {
  const cf = event.Records[0].cf;
  return fix(cf.request, cf.response);
};
