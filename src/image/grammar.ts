// The image reference grammar of github.com/distribution/reference (regexp.go), rebuilt from the
// same named pieces so each line can be checked against the Go source. JavaScript's backtracking
// engine and Go's RE2 agree here: both are leftmost-first, and `\w` is ASCII-only in both (no `u`
// flag), so matches and capture groups come out the same.
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain '/'] remote-name
//   domain           := host [':' port-number]
//   host             := domain-name | IPv4address | \[ IPv6address \]
//   domain-name      := domain-component ['.' domain-component]*
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   path-component   := alpha-numeric [separator alpha-numeric]*
//   separator        := /[_.]|__|[-]+/
//   tag              := /[\w][\w.-]{0,127}/
//   digest           := algorithm ":" hex   (at least 32 hex digits)

const optional = (...parts: string[]): string => `(?:${parts.join('')})?`;
const anyTimes = (...parts: string[]): string => `(?:${parts.join('')})*`;
const capture = (...parts: string[]): string => `(${parts.join('')})`;
const anchored = (...parts: string[]): RegExp => new RegExp(`^${parts.join('')}$`);

const alphanumeric = '[a-z0-9]+';
// One period, one or two underscores, or any number of dashes (so hostnames fit in a path).
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tag = '[\\w][\\w.-]{0,127}';
// Go's [[:xdigit:]] is [0-9A-Fa-f]; which algorithms need lower case is decided in digest.ts.
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const identifier = '[a-f0-9]{64}';
// Compressed or full IPv6 in brackets; zone identifiers and IPv4-mapped forms are excluded.
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = domainNameComponent + anyTimes('\\.', domainNameComponent);
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;

const pathComponent = alphanumeric + anyTimes(separator, alphanumeric);
const remoteName = pathComponent + anyTimes('/', pathComponent);
const name = optional(domainAndPort, '/') + remoteName;

/** Whole reference; groups: 1 name, 2 tag, 3 digest. */
export const REFERENCE = anchored(capture(name), optional(':', capture(tag)), optional('@', capture(digest)));

/** A name (no tag or digest); groups: 1 domain (may be absent), 2 path. */
export const NAME = anchored(optional(capture(domainAndPort), '/'), capture(remoteName));

/** A bare 64-hex image ID, which ParseNormalizedNamed refuses as ambiguous. */
export const IDENTIFIER = anchored(identifier);

/** One repository path component, lower case: also the shape of an app slug and of a host in a proxied path. */
export const PATH_COMPONENT = anchored(pathComponent);

/** A registry host with an optional port, IPv6 literals included. */
export const DOMAIN_AND_PORT = anchored(domainAndPort);

/** A DNS-style registry host or IPv4 address, without a port and not an IPv6 literal. */
export const DOMAIN_NAME = anchored(domainName);

export const TAG = anchored(tag);
export const DIGEST = anchored(digest);
