import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1ServiceAccount,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
  V1Validation,
} from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../admission/labels.ts';
import type { PullSecretManifest } from './pull-secret-manifest.ts';

/** What pullgate's rights depend on. */
export interface AccessPolicySettings {
  /** pullgate's own namespace: its ServiceAccount, its leader lease and the credential source live there. */
  namespace: string;
  serviceAccount: string;
  /** `pullSecret.name`: the only Secret pullgate writes. */
  pullSecretName: string;
  leaseName: string;
  /** `credentials.dockerConfigSecret`, when configured: read, never written. */
  dockerConfigSecret?: string;
  /** Self-managed TLS (serve --tls self-managed): the CA Secret it creates and reads, the webhook configuration whose caBundle it keeps. */
  selfManagedTls?: { caSecretName: string; webhookConfigurationName: string };
  /** serve --install-guard: the chart's install guard, a MutatingWebhookConfiguration pullgate deletes once it serves. */
  installGuard?: string;
}

const PULL_SECRET_TYPE: PullSecretManifest['type'] = 'kubernetes.io/dockerconfigjson';
const CA_SECRET_TYPE = 'kubernetes.io/tls';
export const DEFAULT_LEASE_NAME = 'pullgate-leader';
/** Name of every object rendered here but the write guard. */
const NAME = 'pullgate';
export const WRITE_GUARD_NAME = 'pullgate-write-guard';
const LABELS = { 'app.kubernetes.io/name': 'pullgate' };

export function serviceAccountUsername(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/**
 * Cluster-wide rights. Secrets are readable and writable by name only: the informer lists and
 * watches with a `metadata.name` field selector, which RBAC authorizes against resourceNames, so
 * pullgate never sees any other Secret. `create` cannot be limited by name in RBAC; the write
 * guard does that.
 */
export function clusterRules(settings: AccessPolicySettings): V1PolicyRule[] {
  return [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    { apiGroups: [''], resources: ['secrets'], resourceNames: [settings.pullSecretName], verbs: ['get', 'list', 'watch', 'update', 'delete'] },
    // Its own webhook configuration, to keep the CA in its caBundle: watched by name (a field
    // selector), updated. No get or patch: pullgate does neither.
    ...(settings.selfManagedTls
      ? [{ apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [settings.selfManagedTls.webhookConfigurationName], verbs: ['list', 'watch', 'update'] }]
      : []),
    // The install guard: deleted by name once pullgate serves; never read or changed.
    ...(settings.installGuard
      ? [{ apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [settings.installGuard], verbs: ['delete'] }]
      : []),
  ];
}

/** Rights in pullgate's own namespace: its leader lease, and reading the credential source. */
export function ownNamespaceRules(settings: AccessPolicySettings): V1PolicyRule[] {
  return [
    // `create` cannot be limited by name either; creating another lease gains nothing.
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [settings.leaseName], verbs: ['get', 'update'] },
    ...(settings.dockerConfigSecret
      ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: [settings.dockerConfigSecret], verbs: ['get', 'list', 'watch'] }]
      : []),
    // The CA Secret: read by name. It is created through the cluster-wide `create`, which the
    // write guard limits to this name and type here; it is never updated or deleted.
    ...(settings.selfManagedTls ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: [settings.selfManagedTls.caSecretName], verbs: ['get'] }] : []),
  ];
}

export type RbacManifest = V1ServiceAccount | V1ClusterRole | V1ClusterRoleBinding | V1Role | V1RoleBinding;

/** pullgate's ServiceAccount and exactly the rights it needs, bound to it. */
export function rbacManifests(settings: AccessPolicySettings): RbacManifest[] {
  const subjects = [{ kind: 'ServiceAccount', name: settings.serviceAccount, namespace: settings.namespace }];
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: settings.serviceAccount, namespace: settings.namespace, labels: { ...LABELS } },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: NAME, labels: { ...LABELS } },
      rules: clusterRules(settings),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: NAME, labels: { ...LABELS } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME },
      subjects,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: NAME, namespace: settings.namespace, labels: { ...LABELS } },
      rules: ownNamespaceRules(settings),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: NAME, namespace: settings.namespace, labels: { ...LABELS } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME },
      subjects,
    },
  ];
}

/** A CEL string literal (single-quoted). Names and label values never hold quotes, but be exact anyway. */
function cel(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** CEL: `obj` carries the managed-by label. */
function managed(obj: 'object' | 'oldObject'): string {
  const key = cel(MANAGED_BY_LABEL);
  return `has(${obj}.metadata.labels) && ${key} in ${obj}.metadata.labels && ${obj}.metadata.labels[${key}] == ${cel(MANAGED_BY_VALUE)}`;
}

/**
 * The validations of the write guard. Every message names the rule and at most the namespace, name
 * or type of the Secret: never anything from its data. `message` stands in should a
 * messageExpression fail.
 */
function writeGuardValidations(settings: AccessPolicySettings): V1Validation[] {
  const label = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const ca = settings.selfManagedTls?.caSecretName;
  // With self-managed TLS its own namespace holds one Secret pullgate writes: the CA's, once.
  const forbidden = ['kube-system', ...(ca === undefined ? [settings.namespace] : [])].filter((n, i, all) => all.indexOf(n) === i);
  /** CEL for a value that is `inOwn` in pullgate's own namespace (with a CA Secret) and `elsewhere` elsewhere. */
  const byNamespace = (inOwn: string, elsewhere: string) => (ca === undefined ? cel(elsewhere) : `(request.namespace == ${cel(settings.namespace)} ? ${cel(inOwn)} : ${cel(elsewhere)})`);
  const names = ca === undefined ? settings.pullSecretName : `${settings.pullSecretName} (${ca} in ${settings.namespace})`;
  const types = ca === undefined ? PULL_SECRET_TYPE : `${PULL_SECRET_TYPE} (${CA_SECRET_TYPE} in ${settings.namespace})`;
  return [
    {
      expression: `!(request.namespace in [${forbidden.map(cel).join(', ')}])`,
      message: `pullgate may not write Secrets in ${forbidden.join(' or ')}`,
      messageExpression: `'pullgate may not write Secrets in namespace ' + request.namespace`,
      reason: 'Forbidden',
    },
    ...(ca === undefined
      ? []
      : [
          {
            expression: `request.namespace != ${cel(settings.namespace)} || request.operation == 'CREATE'`,
            message: `pullgate may only create, never update or delete, a Secret in ${settings.namespace}`,
            reason: 'Forbidden',
          },
        ]),
    {
      expression: `variables.name == ${byNamespace(ca ?? '', settings.pullSecretName)}`,
      message: `pullgate may only write the Secret named ${names}`,
      messageExpression: `'pullgate may only write the Secret named ' + ${byNamespace(ca ?? '', settings.pullSecretName)} + ', not "' + variables.name + '"'`,
      reason: 'Forbidden',
    },
    {
      expression: `request.operation == 'DELETE' || (has(object.type) && object.type == ${byNamespace(CA_SECRET_TYPE, PULL_SECRET_TYPE)})`,
      message: `pullgate may only write Secrets of type ${types}`,
      messageExpression: `'pullgate may only write Secrets of type ' + ${byNamespace(CA_SECRET_TYPE, PULL_SECRET_TYPE)} + ', not ' + (has(object.type) ? object.type : 'none')`,
      reason: 'Forbidden',
    },
    {
      expression: `request.operation == 'DELETE' || (${managed('object')})`,
      message: `pullgate may only write Secrets labelled ${label}`,
      reason: 'Forbidden',
    },
    {
      // Never take over, or delete, someone else's Secret that happens to have the same name.
      expression: `request.operation == 'CREATE' || (${managed('oldObject')})`,
      message: `pullgate may only update or delete a Secret that is already labelled ${label}`,
      reason: 'Forbidden',
    },
  ];
}

/**
 * An admission policy, enforced by the API server itself, that holds pullgate's ServiceAccount to
 * the one kind of write it needs: the pull secret (by name, type and managed-by label), outside
 * kube-system and pullgate's own namespace, and only ever replacing or deleting a Secret pullgate
 * manages; with self-managed TLS also creating (only) its CA Secret, by name and type, in its own
 * namespace. RBAC alone cannot say this: it grants `create` on every Secret, which would let that
 * identity mint a ServiceAccount token Secret for any ServiceAccount.
 */
export function writeGuardManifests(settings: AccessPolicySettings): [V1ValidatingAdmissionPolicy, V1ValidatingAdmissionPolicyBinding] {
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: WRITE_GUARD_NAME, labels: { ...LABELS } },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          matchPolicy: 'Equivalent',
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['secrets'] }],
        },
        matchConditions: [
          {
            name: 'pullgate-service-account',
            expression: `request.userInfo.username == ${cel(serviceAccountUsername(settings.namespace, settings.serviceAccount))}`,
          },
        ],
        variables: [
          {
            name: 'name',
            // A DELETE has no new object; a CREATE with only generateName has no name yet.
            expression: `request.operation == 'DELETE' ? oldObject.metadata.name : (has(object.metadata.name) ? object.metadata.name : '')`,
          },
        ],
        validations: writeGuardValidations(settings),
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: WRITE_GUARD_NAME, labels: { ...LABELS } },
      spec: { policyName: WRITE_GUARD_NAME, validationActions: ['Deny'] },
    },
  ];
}
