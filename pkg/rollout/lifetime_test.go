package rollout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
)

func TestWhenGone(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	since := func(d time.Duration) v1alpha1.ConfigReleaseStatus {
		return v1alpha1.ConfigReleaseStatus{SourceGoneSince: &metav1.Time{Time: now.Add(-d)}}
	}
	tests := []struct {
		name string
		st   v1alpha1.ConfigReleaseStatus
		step goneStep
		left time.Duration
	}{
		{"a source first found gone is marked, the whole grace ahead", v1alpha1.ConfigReleaseStatus{}, goneMark, 10 * time.Minute},
		{"within the grace the release waits for it to come back", since(4 * time.Minute), goneWait, 6 * time.Minute},
		{"at the end of the grace the release ends", since(10 * time.Minute), goneEnd, 0},
		{"long after, it ends", since(time.Hour), goneEnd, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, left := whenGone(tt.st, now, 10*time.Minute)
			assert.Equal(t, tt.step, step)
			assert.Equal(t, tt.left, left)
		})
	}
}
