package webhook

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkInjectorHandle is one admission without the network: decode,
// mutate, encode, patch.
func BenchmarkInjectorHandle(b *testing.B) {
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	inj := newInjector(&testing.T{}, namespaces{byName: map[string]*corev1.Namespace{"shop": shop}}, "reloader:1")
	req := podRequest(&testing.T{}, "shop", webPod())
	b.ReportAllocs()
	for b.Loop() {
		if resp := inj.Handle(context.Background(), req); len(resp.Patches) == 0 {
			b.Fatal("not mutated")
		}
	}
}
