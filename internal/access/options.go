package access

import "sigs.k8s.io/controller-runtime/pkg/controller"

func controllerOptions(o Options) controller.Options {
	n := o.MaxConcurrentReconciles
	if n <= 0 {
		n = 1
	}
	return controller.Options{MaxConcurrentReconciles: n}
}
