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
The operator's rights, the same in a namespaced Role and in the cluster-wide ClusterRole: the
verbs its code and kopf use, nothing more (the README's RBAC table lists each with its user,
and tests/chart/test_chart_rbac.py holds the chart to that table). No wildcards; nothing is
deleted by hand but the CronJob and PodDisruptionBudget a changed spec no longer asks for
(everything else goes with its OpenFnJob through garbage collection).
*/}}
{{- define "osc.rbacRules" -}}
# kopf lists and watches OpenFnJobs and patches its own annotations on them.
- apiGroups: [osc.openfn.org]
  resources: [openfnjobs]
  verbs: [get, list, watch, patch]
- apiGroups: [osc.openfn.org]
  resources: [openfnjobs/status]
  verbs: [patch]
# Children carry ownerReferences with blockOwnerDeletion, which the
# OwnerReferencesPermissionEnforcement admission plugin allows only with this right.
- apiGroups: [osc.openfn.org]
  resources: [openfnjobs/finalizers]
  verbs: [update]
# Watched: a jobFrom ConfigMap or a credential/inbox Secret that changes rolls the job's pods.
# Secrets are created (`<job>-inbox`, `<job>-flow-keys`) and patched (`<job>-flow-keys`)
# only for Secrets the operator owns; RBAC cannot limit `create` by name.
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [services]
  verbs: [get, create, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, create, patch, delete]
# The run store's claims are created and grown, never deleted: they go with their OpenFnJob.
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, create, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, create, patch, delete]
# spec.autoscaling: an HPA without KEDA, KEDA's ScaledObject and TriggerAuthentication with it;
# each is deleted when the other takes over or autoscaling is dropped.
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, create, patch, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects, triggerauthentications]
  verbs: [get, create, patch, delete]
{{- if .Values.jobNetworkPolicy.enabled }}
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, create, patch]
{{- end }}
# Pods are only watched: to report why a runtime pod cannot start (a failed init container).
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}
