// A benchmark peer, not part of pullgate: a mutating webhook on controller-runtime doing the same
// mutation as pullgate for the benchmark's review (private images rewritten to the proxy form, the
// original images kept in an annotation, the pull secret referenced), answered with
// PatchResponseFromRaw as controller-runtime webhooks usually are.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

type mutator struct {
	decoder    admission.Decoder
	proxy      string
	private    []string
	secretName string
}

// rewrite mirrors pullgate's rule for the benchmark's images: a reference under a private prefix
// becomes <proxy>/proxy/<app>/<host>/<path>, with Docker Hub's short forms normalized.
func (m *mutator) rewrite(image string) (string, bool) {
	full := image
	first := strings.SplitN(image, "/", 2)
	if len(first) == 1 {
		full = "docker.io/library/" + image
	} else if !strings.ContainsAny(first[0], ".:") && first[0] != "localhost" {
		full = "docker.io/" + image
	}
	for _, p := range m.private {
		if strings.HasPrefix(full, p+"/") {
			return m.proxy + "/" + full, true
		}
	}
	return image, false
}

func (m *mutator) Handle(_ context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := m.decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	originals := map[string]string{}
	changed := false
	fix := func(cs []corev1.Container, kind string) {
		for i := range cs {
			if img, ok := m.rewrite(cs[i].Image); ok {
				originals[kind+"/"+cs[i].Name] = cs[i].Image
				cs[i].Image = img
				changed = true
			}
		}
	}
	fix(pod.Spec.InitContainers, "initContainers")
	fix(pod.Spec.Containers, "containers")
	if changed {
		has := false
		for _, s := range pod.Spec.ImagePullSecrets {
			has = has || s.Name == m.secretName
		}
		if !has {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: m.secretName})
		}
		text, _ := json.Marshal(originals)
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations["pullgate.dev/original-images"] = string(text)
	}
	marshaled, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, marshaled)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	cert := flag.String("cert", "", "serving certificate (PEM)")
	key := flag.String("key", "", "serving key (PEM)")
	flag.Parse()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		log.Fatal(err)
	}
	m := &mutator{
		decoder:    admission.NewDecoder(scheme),
		proxy:      "proxy.example.com/proxy/my-app",
		private:    []string{"quay.io/acme", "docker.io/acme"},
		secretName: "my-app-registry",
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", &admission.Webhook{Handler: m})
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServeTLS(*addr, *cert, *key, mux))
}
