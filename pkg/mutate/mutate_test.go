package mutate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
)

func TestMutateErrors(t *testing.T) {
	pod := &corev1.Pod{}
	got, warnings, err := Mutate(pod, Options{})
	assert.ErrorIs(t, err, ErrNoReloaderImage)
	assert.Nil(t, got)
	assert.Nil(t, warnings)

	got, warnings, err = Mutate(nil, testOptions())
	assert.EqualError(t, err, "no pod to mutate")
	assert.Nil(t, got)
	assert.Nil(t, warnings)
}

func TestFreePort(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 65535}}}},
		Containers:     []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 1024}, {ContainerPort: 9440}}}},
	}}
	assert.Equal(t, []int32{9441, 1025, 1024}, []int32{
		freePort(pod, 9440), freePort(pod, 65535), freePort(&corev1.Pod{}, 1024),
	})
}
