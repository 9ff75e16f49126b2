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
}

const PULL_SECRET_TYPE: PullSecretManifest['type'] = 'kubernetes.io/dockerconfigjson';
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
  const forbidden = ['kube-system', settings.namespace].filter((n, i, all) => all.indexOf(n) === i);
  return [
    {
      expression: `!(request.namespace in [${forbidden.map(cel).join(', ')}])`,
      message: `pullgate may not write Secrets in ${forbidden.join(' or ')}`,
      messageExpression: `'pullgate may not write Secrets in namespace ' + request.namespace`,
      reason: 'Forbidden',
    },
    {
      expression: `variables.name == ${cel(settings.pullSecretName)}`,
      message: `pullgate may only write the Secret named ${settings.pullSecretName}`,
      messageExpression: `'pullgate may only write the Secret named ${settings.pullSecretName}, not "' + variables.name + '"'`,
      reason: 'Forbidden',
    },
    {
      expression: `request.operation == 'DELETE' || (has(object.type) && object.type == ${cel(PULL_SECRET_TYPE)})`,
      message: `pullgate may only write Secrets of type ${PULL_SECRET_TYPE}`,
      messageExpression: `'pullgate may only write Secrets of type ${PULL_SECRET_TYPE}, not ' + (has(object.type) ? object.type : 'none')`,
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
 * manages. RBAC alone cannot say this: it grants `create` on every Secret, which would let that
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
