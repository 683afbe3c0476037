{{/*
The labels of an object: its own, the chart's (app.kubernetes.io/part-of as deploy/
sets it, and Helm's), then commonLabels, none overriding an earlier one.
Argument: (list $ ownLabels).
*/}}
{{- define "hotreload.labels" -}}
{{- $root := index . 0 -}}
{{- $chart := dict
  "app.kubernetes.io/part-of" "hotreload"
  "helm.sh/chart" (printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/managed-by" $root.Release.Service
  "app.kubernetes.io/instance" $root.Release.Name
  "app.kubernetes.io/version" ($root.Chart.AppVersion | trunc 63 | trimSuffix "-") -}}
{{- toYaml (merge (dict) (index . 1) $chart $root.Values.commonLabels) -}}
{{- end }}

{{/*
The annotations of an object, its own then commonAnnotations, as a YAML map; nothing
when both are empty. Argument: (list $ ownAnnotations).
*/}}
{{- define "hotreload.annotations" -}}
{{- with merge (dict) (index . 1) (index . 0).Values.commonAnnotations -}}
{{- toYaml . -}}
{{- end -}}
{{- end }}

{{/*
An image reference: repository:tag, the tag defaulting to the chart's appVersion, and
@digest when one is given. Argument: (list $ .Values.image.NAME).
*/}}
{{- define "hotreload.image" -}}
{{- $image := index . 1 -}}
{{- $image.repository }}:{{ $image.tag | default (index . 0).Chart.AppVersion }}
{{- with $image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
hotreload's namespace is hotreload-system, which the admission policies name in CEL
(deploy/base/policy*.yaml). The chart creates and owns it, so that helm uninstall
deletes it and, by garbage collection, what the controller made in enabled namespaces:
Helm's release record must live elsewhere.
*/}}
{{- define "hotreload.checkReleaseNamespace" -}}
{{- if eq .Release.Namespace "hotreload-system" -}}
{{- fail "install the release in another namespace than hotreload-system (helm install -n default, say): the chart creates and owns hotreload-system, and helm uninstall deletes it with everything hotreload made" -}}
{{- end -}}
{{- end }}

{{/*
Every object of a multi-document YAML file of the chart, with the chart's labels and
annotations added to its own. Argument: (list $ path).
*/}}
{{- define "hotreload.fromFile" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- range $doc := regexSplit "(?m)^---\\s*$" ($root.Files.Get $path) -1 }}
{{- $obj := fromYaml $doc }}
{{- if hasKey $obj "Error" }}
{{- fail (printf "%s: %s" $path $obj.Error) }}
{{- end }}
{{- if $obj }}
{{- $meta := $obj.metadata }}
{{- $_ := set $meta "labels" (include "hotreload.labels" (list $root ($meta.labels | default dict)) | fromYaml) }}
{{- with merge (dict) ($meta.annotations | default dict) $root.Values.commonAnnotations }}
{{- $_ := set $meta "annotations" . }}
{{- end }}
---
{{ toYaml $obj }}
{{- end }}
{{- end }}
{{- end }}
