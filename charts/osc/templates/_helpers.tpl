{{/* Names and labels shared by every template. */}}

{{- define "osc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-osc, or the release name alone when it already contains the chart name. */}}
{{- define "osc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "osc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "osc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "osc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "osc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: osc
{{- end -}}

{{- define "osc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "osc.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "osc.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "osc.runtimeImage" -}}
{{- printf "%s:%s" .Values.runtime.image.repository (default .Chart.AppVersion .Values.runtime.image.tag) -}}
{{- end -}}

{{/* The namespaces the operator watches; the release namespace when none are listed. */}}
{{- define "osc.watchNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- join "," (uniq .Values.watchNamespaces) -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/*
The operator's rights, the same in a namespaced Role and in the cluster-wide ClusterRole.
Least privilege: no wildcards; Secrets are read, and created/patched only for the
`<job>-inbox` key Secrets the operator owns (RBAC cannot limit `create` by name, so this is
the narrowest grant that works); nothing is ever deleted by hand except the children it
renders (ConfigMap, Service, Deployment, CronJob), which garbage collection would also remove.
*/}}
{{- define "osc.rbacRules" -}}
- apiGroups: [osc.openfn.org]
  resources: [openfnjobs]
  verbs: [get, list, watch, patch]
- apiGroups: [osc.openfn.org]
  resources: [openfnjobs/status]
  verbs: [get, patch]
# Children carry ownerReferences with blockOwnerDeletion, which the
# OwnerReferencesPermissionEnforcement admission plugin allows only with this right.
- apiGroups: [osc.openfn.org]
  resources: [openfnjobs/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch]
# The run store's claims (spec.storage) are created and grown, never updated whole or deleted:
# they go with their OpenFnJob through the ownerReference.
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create, patch]
# Pods are only read: to report why a runtime pod cannot start (e.g. a failed init container).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
