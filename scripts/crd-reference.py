#!/usr/bin/env python3
"""Writes docs/reference/job.md from the generated CRDs: one row per field of each spec and status (jobs, then queues)."""
import sys
import json
import yaml  # PyYAML

def spec_of(path, part="spec"):
    crd = yaml.safe_load(open(path))
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][part]

spec = spec_of(sys.argv[1] if len(sys.argv) > 1 else "crds/multimodalpretrainjobs.kiln.dev-v1.yml")
rows = []

def walk(schema, path, required):
    for name, prop in sorted(schema.get("properties", {}).items()):
        field = f"{path}.{name}"
        kind = prop.get("type", "")
        if kind == "array":
            item = prop.get("items", {})
            kind = f"[]{item.get('type', '')}"
        notes = []
        if name in required:
            notes.append("required")
        if "default" in prop:
            notes.append(f"default `{json.dumps(prop['default'])}`")
        for key, label in (("minimum", "min"), ("maximum", "max"), ("minItems", "min items"), ("maxItems", "max items"),
                           ("maxLength", "max length")):
            if key in prop:
                value = prop[key]
                shown = int(value) if float(value).is_integer() else value
                # An exclusive bound is a strict comparison: lr > 0, beta1 < 1.
                if key == "minimum" and prop.get("exclusiveMinimum"):
                    notes.append(f"> {shown}")
                elif key == "maximum" and prop.get("exclusiveMaximum"):
                    notes.append(f"< {shown}")
                else:
                    notes.append(f"{label} {shown}")
        enum = prop.get("enum") or prop.get("items", {}).get("enum")
        if enum:
            notes.append("one of " + ", ".join(f"`{e}`" for e in enum))
        if "pattern" in prop:
            notes.append(f"pattern `{prop['pattern']}`")
        for rule in prop.get("x-kubernetes-validations", []):
            notes.append(f"rule: {rule['message']}")
        description = prop.get("description", "").replace("|", "\\|")
        rows.append(f"| `{field}` | {kind} | {description} | {'; '.join(notes)} |")
        child = prop.get("items", prop) if prop.get("type") == "array" else prop
        walk(child, field + ("[]" if prop.get("type") == "array" else ""), child.get("required", []))
        # A map of objects (resourceQuotas): its values' fields, under the key's place.
        values = prop.get("additionalProperties")
        if isinstance(values, dict) and "properties" in values:
            walk(values, field + ".<key>", values.get("required", []))

walk(spec, "spec", spec.get("required", []))
job_rows = rows
rows = []
status = spec_of(sys.argv[1] if len(sys.argv) > 1 else "crds/multimodalpretrainjobs.kiln.dev-v1.yml", "status")
walk(status, "status", [])
status_rows = rows
rows = []
queue_spec = spec_of("crds/trainingqueues.kiln.dev-v1.yml")
walk(queue_spec, "spec", queue_spec.get("required", []))
walk(spec_of("crds/trainingqueues.kiln.dev-v1.yml", "status"), "status", [])
queue_rows = rows
rows = job_rows
out = ["# MultimodalPretrainJob reference", "",
       "`kiln.dev/v1alpha1`, kind `MultimodalPretrainJob`, short name `mpj`, category `kiln` (`kubectl get kiln` lists jobs and queues).",
       "`kubectl get mpj` shows `NAME PHASE STAGE PROGRESS RESTARTS AGE`; `-o wide` adds `QUEUE` and `POSITION`. Generated from",
       "`crds/multimodalpretrainjobs.kiln.dev-v1.yml` by `scripts/crd-reference.py`; `kiln validate`",
       "applies every rule below, evaluated from the CRD itself as the API server evaluates it (schema and CEL),",
       "plus the ones a schema cannot say (listed at the end).", "",
       "| field | type | meaning | constraints |", "|---|---|---|---|"] + rows
out += ["", "## Rules beyond the schema", "",
        "- `metadata.name`: a DNS label of at most 30 characters that starts with a letter, so `<job>-<stage>-a<N>-<index>` fits a hostname (also a CEL rule on the CRD's root: the API server refuses it too).",
        "- `spec.stages[].visualTokens`: a perfect square no larger than the encoder's patch grid (27x27 = 729 for SigLIP/14@384), and small enough to fit `data.packing.sequenceLength` with text.",
        "- `spec.stages[].sources[]`: each names an entry of `spec.data.sources`.",
        "- `spec.stages[].batch.globalBatchSize`: a multiple of `microBatchSize` x ranks (nodes x GPUs per node).",
        "- `spec.checkpoints.volumeClaim.accessModes`: must include `ReadWriteMany` when any stage runs on more than one node.",
        "- `spec.model` (explicit): `patchSize` divides `imageSize`, heads divide widths, `kvHeads` divides `heads`, even head dimension.",
        "- `spec.model` is immutable from creation (the CRD's transition rule: the API server refuses the edit); a job whose model is wrong is deleted and created again. The operator holds the model it first accepted too, for an API server that did not evaluate the rule.",
        "- `spec.scheduling.mode` and `spec.scheduling.queue` cannot change once a stage has started (a transition rule on the object, reading `status.stages[].startTime`): the queue that admitted its Jobs keeps them; they may change while the job waits.",
        "- A stage that has started cannot change (except `promotion`): the operator reports `Validated=False, SpecChangeRejected` and starts nothing new until the edit is reverted.",
        "- `spec.data.claimName` and `spec.model.initialWeights.claimName`: when a stage runs on more than one node, the claim must be `ReadOnlyMany` or `ReadWriteMany` (every node mounts it); the operator checks the claim before it starts anything and fails the job `InvalidSpec` naming it.",
        ""]
out += ["## Status", "",
        "Written by the operator only (through the status subresource); [concepts](../concepts.md) says what the phases,",
        "conditions and failure reasons mean.", "",
        "| field | type | meaning | constraints |", "|---|---|---|---|"] + status_rows + [""]
out += ["# TrainingQueue reference", "",
        "`kiln.dev/v1alpha1`, kind `TrainingQueue`, short name `tq`, cluster-scoped. Generated from",
        "`crds/trainingqueues.kiln.dev-v1.yml`. A job names its queue in `spec.scheduling.queue` (default `default`,",
        "which the operator creates at start when it is missing: no quota, `BestEffortFIFO`, no preemption).",
        "",
        "| field | type | meaning | constraints |", "|---|---|---|---|"] + queue_rows + [""]
open("docs/reference/job.md", "w").write("\n".join(out))
