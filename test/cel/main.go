// cel-match: evaluates a MutatingWebhook's matchConditions exactly as kube-apiserver does, with
// the same packages: the compiler the webhook plugin builds (generic/webhook.go), the webhook
// accessor's compile options (accessors.go) and matchconditions.Matcher, with its cost budget.
//
//	cel-match CONDITIONS.json FAILURE_POLICY < pods.jsonl > results.jsonl
//
// CONDITIONS.json: [{"name":…,"expression":…}]. Each stdin line is a Pod (JSON); each output line
// {"matches":bool,"error":"…","cost":N} for the Pod on that line, as a CREATE. Before any Pod, each
// condition is compiled as the API server validates a new webhook configuration (NewExpressions);
// a compilation error exits 2 with the message. CEL_COMPATIBILITY_VERSION=1.30 compiles and
// evaluates with the CEL environment of that Kubernetes version instead of this release's default.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
)

type result struct {
	Matches bool   `json:"matches"`
	Error   string `json:"error,omitempty"`
	Cost    int64  `json:"cost"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cel-match CONDITIONS.json Fail|Ignore < pods.jsonl")
		os.Exit(64)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var conditions []admissionregistrationv1.MatchCondition
	if err := json.Unmarshal(raw, &conditions); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	policy := admissionregistrationv1.FailurePolicyType(os.Args[2])

	compatibility := environment.DefaultCompatibilityVersion()
	if v := os.Getenv("CEL_COMPATIBILITY_VERSION"); v != "" {
		compatibility = version.MustParse(v)
	}
	compiler := plugincel.NewConditionCompiler(environment.MustBaseEnvSet(compatibility))
	options := plugincel.OptionalVariableDeclarations{HasParams: false, HasAuthorizer: true}
	accessors := make([]plugincel.ExpressionAccessor, len(conditions))
	for i, c := range conditions {
		accessors[i] = &matchconditions.MatchCondition{Name: c.Name, Expression: c.Expression}
		// As validation compiles a condition a new configuration brings.
		checked := plugincel.NewCompiler(environment.MustBaseEnvSet(compatibility)).CompileCELExpression(accessors[i], options, environment.NewExpressions)
		if checked.Error != nil {
			fmt.Fprintf(os.Stderr, "condition %q: %v\n", c.Name, checked.Error)
			os.Exit(2)
		}
	}
	filter := compiler.CompileCondition(accessors, options, environment.StoredExpressions)
	matcher := matchconditions.NewMatcher(filter, &policy, "webhook", "admit", "prefilter")

	gvk := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	for in.Scan() {
		var pod corev1.Pod
		if err := json.Unmarshal(in.Bytes(), &pod); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		attributes := admission.NewAttributesRecord(&pod, nil, gvk, pod.Namespace, pod.Name, gvr, "", admission.Create, nil, false, &user.DefaultInfo{Name: "cel-match"})
		versioned := &admission.VersionedAttributes{Attributes: attributes, VersionedKind: gvk, VersionedObject: &pod}
		ctx := context.Background()
		r := result{}
		match := matcher.Match(ctx, versioned, nil, nil)
		r.Matches = match.Matches
		if match.Error != nil {
			r.Error = match.Error.Error()
		}
		// The cost, from the same evaluation the matcher runs.
		_, remaining, err := filter.ForInput(ctx, versioned, plugincel.CreateAdmissionRequest(attributes, metav1.GroupVersionResource(gvr), metav1.GroupVersionKind(gvk)), plugincel.OptionalVariableBindings{}, nil, celconfig.RuntimeCELCostBudgetMatchConditions)
		if err != nil && r.Error == "" {
			r.Error = err.Error()
		}
		r.Cost = celconfig.RuntimeCELCostBudgetMatchConditions - remaining
		if err := encoder.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
