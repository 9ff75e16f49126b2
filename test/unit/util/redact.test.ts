// The one place that says what is kept out of logs, errors and warnings: the credential in every
// form, credential-bearing log fields, quoted input in JSON parse errors, image user info.
import { describe, expect, it } from 'vitest';
import { dockerConfigJson } from '../../../src/k8s/pull-secret-manifest.ts';
import { credentialForms, jsonParseErrorReason, redactCredential, redactImageUserInfo, REDACTED, shownImage } from '../../../src/util/redact.ts';
import { AUTH, LICENSE_ID } from '../helpers/fixtures.ts';
import { captureLogs } from '../helpers/logs.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const DERIVED = dockerConfigJson({ name: 'x', proxyDomain: 'proxy.example.com', registryDomain: 'registry.example.com', licenseID: LICENSE_ID });

describe('credentialForms and redactCredential', () => {
  it('masks a license-derived credential in every form it is sent in', () => {
    const forms = credentialForms(DERIVED, LICENSE_ID);
    const sent = [LICENSE_ID, AUTH, DERIVED, b64(DERIVED), JSON.stringify(DERIVED), `LICENSE_ID:${LICENSE_ID}`];
    for (const form of sent) {
      const text = redactCredential(`before ${form} after`, forms);
      expect(text).not.toContain(LICENSE_ID);
      expect(text).not.toContain(AUTH);
      expect(text).toMatch(/^before .*\[redacted\].* after$/);
    }
    // Whole forms are masked as one: nothing of the document is left around the mask.
    expect(redactCredential(`a ${b64(DERIVED)} b`, forms)).toBe(`a ${REDACTED} b`);
    expect(redactCredential(`a ${DERIVED} b`, forms)).toBe(`a ${REDACTED} b`);
    expect(redactCredential(`a ${JSON.stringify({ message: DERIVED })} b`, forms)).toBe(`a {"message":"${REDACTED}"} b`);
  });

  it('finds the license ID in the auth values even when it is not given', () => {
    expect(redactCredential(`id=${LICENSE_ID}`, credentialForms(DERIVED))).toBe(`id=${REDACTED}`);
  });

  it('masks each credential of a copied .dockerconfigjson: auth values, what they decode to, passwords, tokens', () => {
    const copied = JSON.stringify({
      auths: {
        'registry.vendor.com': { auth: b64('robot$vendor:s3cr3t-Pa55word'), email: 'ops@example.com' },
        'proxy.vendor.com': { username: 'bob', password: 'hunter2-and-more' },
        'ghcr.io': { identitytoken: 'ghp_identityToken123', registrytoken: 'rt_registryToken456' },
      },
    });
    const forms = credentialForms(copied);
    for (const secret of [b64('robot$vendor:s3cr3t-Pa55word'), 'robot$vendor:s3cr3t-Pa55word', 's3cr3t-Pa55word', 'hunter2-and-more', 'ghp_identityToken123', 'rt_registryToken456', copied, b64(copied)]) {
      expect(redactCredential(`x ${secret} y`, forms)).toBe(`x ${REDACTED} y`);
    }
    // Not credentials: left readable.
    expect(redactCredential('user bob at registry.vendor.com, mail ops@example.com', forms)).toBe('user bob at registry.vendor.com, mail ops@example.com');
  });

  it('masks a copied config that is not JSON as a whole, and ignores values too short to be credentials', () => {
    expect(redactCredential('v=not json at all', credentialForms('not json at all'))).toBe(`v=${REDACTED}`);
    const forms = credentialForms(JSON.stringify({ auths: { r: { password: 'abc', auth: 'not base64 at all!' } } }));
    expect(redactCredential('abc and not base64 at all!', forms)).toBe(`abc and ${REDACTED}`);
  });

  it('lists longer forms first, so no form is cut up by a shorter one inside it', () => {
    const forms = credentialForms(DERIVED, LICENSE_ID);
    expect(forms).toEqual([...forms].sort((a, b) => b.length - a.length));
    expect(new Set(forms).size).toBe(forms.length);
  });
});

describe('jsonParseErrorReason', () => {
  const reasonFor = (text: string) => {
    try {
      JSON.parse(text);
    } catch (err) {
      return jsonParseErrorReason((err as Error).message);
    }
    throw new Error('parsed');
  };

  it('drops a message that quotes the input', () => {
    expect(reasonFor('{"password":hunter2}')).toBe('unexpected token');
  });

  it('keeps a message that names a position only', () => {
    expect(reasonFor('{"a":1')).not.toBe('unexpected token');
    expect(reasonFor('{"a":1')).not.toContain('"');
  });
});

describe('image user info', () => {
  it('masks user:password@ and token@ before the host, with or without a scheme', () => {
    expect(redactImageUserInfo('https://user:token@quay.io/acme/x:1')).toBe('https://***@quay.io/acme/x:1');
    expect(redactImageUserInfo('user:token@quay.io/acme/x:1')).toBe('***@quay.io/acme/x:1');
    expect(redactImageUserInfo('ghp_token@quay.io/acme/x:1')).toBe('***@quay.io/acme/x:1');
  });

  it('leaves a digest alone', () => {
    const digest = `quay.io/acme/x@sha256:${'a'.repeat(64)}`;
    expect(redactImageUserInfo(digest)).toBe(digest);
    expect(redactImageUserInfo(`x@sha256:${'a'.repeat(64)}`)).toBe(`x@sha256:${'a'.repeat(64)}`);
    expect(redactImageUserInfo('quay.io:443/acme/x:1')).toBe('quay.io:443/acme/x:1');
  });

  it('shownImage also cuts to a readable length', () => {
    const long = `quay.io/acme/${'x'.repeat(300)}`;
    expect(shownImage(long)).toBe(`${long.slice(0, 120)}…`);
    expect(shownImage('https://u:p@quay.io/acme/x:1')).toBe('https://***@quay.io/acme/x:1');
  });
});

describe('the logger', () => {
  it('masks credential-bearing fields at the top and one level down, .dockerconfigjson included', () => {
    const logs = captureLogs();
    logs.logger.info(
      {
        licenseID: LICENSE_ID,
        auth: AUTH,
        '.dockerconfigjson': DERIVED,
        secret: { data: { '.dockerconfigjson': b64(DERIVED) }, '.dockerconfigjson': b64(DERIVED) },
        entry: { auth: AUTH, password: 'hunter2-and-more', identitytoken: 'ghp_identityToken123' },
        namespace: 'team-a',
      },
      'x',
    );
    const text = logs.text();
    for (const secret of [LICENSE_ID, AUTH, DERIVED, JSON.stringify(DERIVED).slice(1, -1), b64(DERIVED), 'hunter2-and-more', 'ghp_identityToken123']) {
      expect(text).not.toContain(secret);
    }
    const record = logs.records()[0]!;
    expect(record).toMatchObject({ licenseID: REDACTED, auth: REDACTED, '.dockerconfigjson': REDACTED, namespace: 'team-a' });
    expect(record.secret).toEqual({ data: REDACTED, '.dockerconfigjson': REDACTED });
  });
});
