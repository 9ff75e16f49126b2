{{/* The name of every object: <release>-pullgate, or the release name if it says pullgate already. */}}
{{- define "pullgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "pullgate" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-pullgate" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* pullgate's own namespace: its Pods, ServiceAccount, Lease, license and credential Secrets. */}}
{{- define "pullgate.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{- define "pullgate.selectorLabels" -}}
app.kubernetes.io/name: pullgate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pullgate.labels" -}}
{{ include "pullgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The pull secret's name, which the RBAC and the write guard need before any license is read. */}}
{{- define "pullgate.pullSecretName" -}}
{{- if .Values.pullSecret.name -}}
{{- .Values.pullSecret.name -}}
{{- else if .Values.appSlug -}}
{{- printf "%s-registry" .Values.appSlug -}}
{{- else -}}
{{- fail "set pullSecret.name (or appSlug): the RBAC and the write guard name the pull secret, whose default comes from the license otherwise" -}}
{{- end -}}
{{- end -}}

{{- define "pullgate.replicatedDockerConfig" -}}
{{- $global := default dict .Values.global -}}
{{- $replicated := default dict (index $global "replicated") -}}
{{- default "" (index $replicated "dockerconfigjson") -}}
{{- end -}}

{{/* The Secret pullgate copies credentials from: configured, made from global.replicated.dockerconfigjson, or none. */}}
{{- define "pullgate.credentialSecret" -}}
{{- if .Values.credentials.dockerConfigSecret -}}
{{- .Values.credentials.dockerConfigSecret -}}
{{- else if include "pullgate.replicatedDockerConfig" . -}}
{{- printf "%s-dockerconfig" (include "pullgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "pullgate.licenseSecret" -}}
{{- if and .Values.license.existingSecret .Values.license.value -}}
{{- fail "set license.existingSecret or license.value, not both" -}}
{{- else if .Values.license.existingSecret -}}
{{- .Values.license.existingSecret -}}
{{- else if .Values.license.value -}}
{{- printf "%s-license" (include "pullgate.fullname" .) -}}
{{- else -}}
{{- fail "set license.existingSecret (a Secret holding the License document) or license.value (the document itself)" -}}
{{- end -}}
{{- end -}}

{{/* The install guard's MutatingWebhookConfiguration (install-guard.yaml), when it is enabled. */}}
{{- define "pullgate.installGuard" -}}
{{- if .Values.installGuard.enabled }}{{ printf "%s-install" (include "pullgate.fullname" .) }}{{ end -}}
{{- end -}}

{{/* self-managed TLS: the CA Secret pullgate creates and reads in its namespace. */}}
{{- define "pullgate.caSecret" -}}
{{- default (printf "%s-ca" (include "pullgate.fullname" .)) .Values.tls.caSecretName -}}
{{- end -}}

{{- define "pullgate.tlsSecret" -}}
{{- default (printf "%s-tls" (include "pullgate.fullname" .)) .Values.tls.secretName -}}
{{- end -}}

{{/* namespaces.application, or the release namespace with namespaces.applicationFromRelease. */}}
{{- define "pullgate.application" -}}
{{- if .Values.namespaces.applicationFromRelease -}}
{{- if .Values.namespaces.application -}}
{{- fail "set namespaces.application or namespaces.applicationFromRelease, not both" -}}
{{- end -}}
{{- .Release.Namespace -}}
{{- else -}}
{{- .Values.namespaces.application -}}
{{- end -}}
{{- end -}}

{{/*
The namespace scope, as JSON: the same rules as src/k8s/namespace-scope.ts. Excluded: kube-system,
pullgate's own namespace and namespaces.exclude. Configured: the application's and the additional
namespaces, unless "*" stands for every namespace. Both sorted and without repeats.
*/}}
{{- define "pullgate.scope" -}}
{{- $own := include "pullgate.namespace" . -}}
{{- $ns := .Values.namespaces -}}
{{- $excluded := concat (list "kube-system" $own) $ns.exclude | uniq | sortAlpha -}}
{{- $all := has "*" $ns.additional -}}
{{- $served := list -}}
{{- with include "pullgate.application" . }}{{ $served = append $served . }}{{ end -}}
{{- if not $all }}{{ $served = concat $served $ns.additional }}{{ end -}}
{{- range $served -}}
{{- if eq . $own -}}
{{- fail (printf "namespaces: %q is pullgate's own namespace, which it never serves: install pullgate in another namespace (namespaceOverride)" .) -}}
{{- else if has . $excluded -}}
{{- fail (printf "namespaces: %q is both served and excluded" .) -}}
{{- end -}}
{{- end -}}
{{- $label := splitn "=" 2 $ns.optInLabel -}}
{{- dict "all" $all "configured" ($served | uniq | sortAlpha) "excluded" $excluded "optInKey" $label._0 "optInValue" $label._1 | toJson -}}
{{- end -}}

{{/* pullgate's configuration file (README, "Configuration"); an empty value leaves its setting out. */}}
{{- define "pullgate.config" -}}
{{- $v := .Values -}}
{{- range $v.privateRegistries -}}
{{- if eq (lower (first (splitList "/" .))) (lower $v.registryDomain) -}}
{{- fail (printf "privateRegistries: %q is on registryDomain %s, whose images are pulled directly with the license, never through the proxy" . $v.registryDomain) -}}
{{- end -}}
{{- end -}}
{{- $config := dict "registryDomain" $v.registryDomain "privateRegistries" $v.privateRegistries -}}
{{- if $v.proxyDomain }}{{ $_ := set $config "proxyDomain" $v.proxyDomain }}{{ end -}}
{{- if $v.appSlug }}{{ $_ := set $config "appSlug" $v.appSlug }}{{ end -}}
{{- $_ := set $config "license" (dict "file" (printf "/etc/pullgate/license/%s" $v.license.key)) -}}
{{- if $v.pullSecret.name }}{{ $_ := set $config "pullSecret" (dict "name" $v.pullSecret.name) }}{{ end -}}
{{- with include "pullgate.credentialSecret" . }}{{ $_ := set $config "credentials" (dict "dockerConfigSecret" .) }}{{ end -}}
{{- $namespaces := dict "additional" $v.namespaces.additional "optInLabel" $v.namespaces.optInLabel "exclude" $v.namespaces.exclude -}}
{{- with include "pullgate.application" . }}{{ $_ := set $namespaces "application" . }}{{ end -}}
{{- $_ := set $config "namespaces" $namespaces -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
The webhooks of the MutatingWebhookConfiguration, as src/k8s/webhook-configuration.ts builds them.
Given (dict "root" . "guard" true), the install guard's: the same entries, always failing closed,
without a caBundle (see install-guard.yaml).
*/}}
{{- define "pullgate.webhooks" -}}
{{- $root := .root -}}
{{- $scope := include "pullgate.scope" $root | fromJson -}}
{{- $hooks := list -}}
{{- if $scope.all -}}
{{- $hooks = append $hooks (dict "name" "pods.pullgate.dev" "operator" "NotIn" "values" $scope.excluded) -}}
{{- else -}}
{{- if $scope.configured -}}
{{- $hooks = append $hooks (dict "name" "pods.pullgate.dev" "operator" "In" "values" $scope.configured) -}}
{{- end -}}
{{- $others := concat $scope.excluded $scope.configured | uniq | sortAlpha -}}
{{- $hooks = append $hooks (dict "name" "opt-in.pods.pullgate.dev" "operator" "NotIn" "values" $others "matchLabels" (dict $scope.optInKey $scope.optInValue)) -}}
{{- end -}}
{{- range $hooks }}
{{ include "pullgate.webhook" (merge (dict "root" $root "guard" $.guard) .) }}
{{- end -}}
{{- end -}}

{{/* One webhook of the MutatingWebhookConfiguration. */}}
{{- define "pullgate.webhook" -}}
{{- $root := .root -}}
- name: {{ .name }}
  clientConfig:
    service:
      namespace: {{ include "pullgate.namespace" $root }}
      name: {{ include "pullgate.fullname" $root }}
      path: /mutate
      port: 443
    {{- /* self-managed: pullgate sets caBundle itself; left out here so an upgrade never resets it. */}}
    {{- if and (not .guard) (eq $root.Values.tls.mode "secret") $root.Values.tls.caBundle }}
    caBundle: {{ $root.Values.tls.caBundle }}
    {{- end }}
  admissionReviewVersions:
    - v1
    - v1beta1
  sideEffects: NoneOnDryRun
  failurePolicy: {{ if .guard }}Fail{{ else }}{{ $root.Values.webhook.failurePolicy }}{{ end }}
  matchPolicy: Equivalent
  # Sidecars added by later webhooks are rewritten too.
  reinvocationPolicy: IfNeeded
  timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
  rules:
    - apiGroups:
        - ""
      apiVersions:
        - v1
      operations:
        - CREATE
        - UPDATE
      resources:
        - pods
        - pods/ephemeralcontainers
      scope: Namespaced
  namespaceSelector:
    {{- with .matchLabels }}
    matchLabels:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: {{ .operator }}
        values:
          {{- toYaml .values | nindent 10 }}
  # Pods that opt out never reach pullgate at all.
  objectSelector:
    matchExpressions:
      - key: pullgate.dev/inject
        operator: NotIn
        values:
          - disabled
  # Nor do Pods without an image pullgate may change.
  matchConditions:
    - name: may-pull-privately
      expression: |-
        {{- include "pullgate.prefilterExpression" $root | nindent 8 }}
{{- end -}}

{{/*
The webhook's prefilter: a CEL expression that is true for a Pod holding an image pullgate may
change. The same text as src/k8s/webhook-match-conditions.ts renders (the unit tests compare them);
read the reasons there. The proxy domain: proxyDomain; else every one an inline license names, and
the default; else (a license in an existing Secret) unknown, and any image with a registry host
matches.
*/}}
{{- define "pullgate.prefilterExpression" -}}
{{- $v := .Values -}}
{{- $hubHosts := list "docker.io" "index.docker.io" "registry-1.docker.io" -}}
{{- $quotedHub := list -}}
{{- range $hubHosts }}{{ $quotedHub = append $quotedHub (regexQuoteMeta .) }}{{ end -}}
{{- $hub := printf "(?:%s)" (join "|" $quotedHub) -}}
{{- $end := "(?:[/:@]|$)" -}}
{{- $anyHub := printf "(?:%s/|[^/.:]+/|[^/]*$)" $hub -}}
{{- $alternatives := list -}}
{{- range $v.privateRegistries -}}
{{- $parts := splitList "/" (trimSuffix "/" .) -}}
{{- $host := lower (first $parts) -}}
{{- $segments := rest $parts -}}
{{- $path := regexQuoteMeta (join "/" $segments) -}}
{{- if not (has $host $hubHosts) -}}
{{- if $segments -}}
{{- $alternatives = append $alternatives (printf "%s/%s%s" (regexQuoteMeta $host) $path $end) -}}
{{- else -}}
{{- $alternatives = append $alternatives (printf "%s/" (regexQuoteMeta $host)) -}}
{{- end -}}
{{- else if not $segments -}}
{{- $alternatives = append $alternatives $anyHub -}}
{{- else if and (eq (first $segments) "library") (eq (len $segments) 1) -}}
{{- $alternatives = append $alternatives (printf "(?:%s/)?(?:library/|[^/]*$)" $hub) -}}
{{- else if and (eq (first $segments) "library") (eq (len $segments) 2) -}}
{{- $alternatives = append $alternatives (printf "(?:%s/)?(?:%s%s|%s(?:[:@]|$))" $hub $path $end (regexQuoteMeta (last $segments))) -}}
{{- else -}}
{{- $alternatives = append $alternatives (printf "(?:%s/)?%s%s" $hub $path $end) -}}
{{- end -}}
{{- end -}}
{{- $hosts := list (lower $v.registryDomain) -}}
{{- $proxyKnown := true -}}
{{- if $v.proxyDomain -}}
{{- $hosts = append $hosts (lower $v.proxyDomain) -}}
{{- else if $v.license.value -}}
{{- $spec := get (fromYaml $v.license.value) "spec" -}}
{{- $named := list -}}
{{- if kindIs "map" $spec -}}
{{- $named = append $named (get $spec "replicatedProxyDomain") -}}
{{- $channels := get $spec "channels" -}}
{{- if kindIs "slice" $channels -}}
{{- range $channels }}{{ if kindIs "map" . }}{{ $named = append $named (get . "replicatedProxyDomain") }}{{ end }}{{ end -}}
{{- end -}}
{{- end -}}
{{- $domains := list "proxy.replicated.com" -}}
{{- range $named }}{{ if and (kindIs "string" .) (trim .) }}{{ $domains = append $domains (lower (trim .)) }}{{ end }}{{ end -}}
{{- $hosts = concat $hosts ($domains | uniq | sortAlpha) -}}
{{- else -}}
{{- $proxyKnown = false -}}
{{- end -}}
{{- range $hosts -}}
{{- if has . $hubHosts -}}
{{- $alternatives = append $alternatives $anyHub -}}
{{- else -}}
{{- $alternatives = append $alternatives (printf "%s/" (regexQuoteMeta .)) -}}
{{- end -}}
{{- end -}}
{{- if not $proxyKnown }}{{ $alternatives = append $alternatives "(?:[^/]*[.:][^/]*|localhost)/" }}{{ end -}}
{{- $pattern := printf "(?i)^(?:%s)" (join "|" ($alternatives | uniq)) -}}
{{- /* webhook-match-conditions.ts slotCap: budget 500000, ceil((520 + 1) / 10) = 53 per tenth, 20 per slot. */ -}}
{{- $cap := div 500000 (add (mul 53 (div (add (len $pattern) 3) 4)) 20) -}}
{{- $lists := list -}}
{{- $images := list -}}
{{- range list "containers" "initContainers" "ephemeralContainers" -}}
{{- $lists = append $lists (printf "size(object.?spec.?%s.orValue([]))" .) -}}
{{- $images = append $images (printf "object.?spec.?%s.orValue([]).map(c, c.?image.orValue(''))" .) -}}
{{- end -}}
{{- $lists = append $lists "size(object.?spec.?volumes.orValue([]))" -}}
{{- $images = append $images "object.?spec.?volumes.orValue([]).map(v, v.?image.?reference.orValue(''))" -}}
{{- printf "%s > %d ||\n(%s).exists(i, size(i) > 520 || i.matches(r'%s'))" (join " + " $lists) $cap (join " +\n  " $images) $pattern -}}
{{- end -}}
