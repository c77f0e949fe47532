{{/* Labels every object carries (the kustomize manifests' too, plus Helm's). */}}
{{- define "podscaler.labels" -}}
app.kubernetes.io/name: podscaler
app.kubernetes.io/part-of: podscaler
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The operator's pods (the Services' and monitors' selector). */}}
{{- define "podscaler.selector" -}}
app.kubernetes.io/name: podscaler
app.kubernetes.io/component: operator
{{- end -}}

{{/* The operator's ServiceAccount as an RBAC subject. */}}
{{- define "podscaler.subject" -}}
- kind: ServiceAccount
  name: podscaler
  namespace: {{ .Release.Namespace }}
{{- end -}}
