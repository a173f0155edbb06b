package shipgraph_test

import (
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var featureStatuses = []shipgraph.FeatureStatus{
	shipgraph.FeatureDraft, shipgraph.FeatureInProgress, shipgraph.FeatureReady,
	shipgraph.FeatureShipped, shipgraph.FeatureArchived,
}

func TestFeatureStatusValid(t *testing.T) {
	t.Parallel()
	for _, s := range featureStatuses {
		t.Run(string(s)+" valid", func(t *testing.T) {
			t.Parallel()
			if !s.Valid() {
				t.Errorf("%q.Valid() = false", s)
			}
		})
	}
	for _, s := range []shipgraph.FeatureStatus{"", "draft", "DONE", " DRAFT", "QUEUED"} {
		t.Run("unknown "+string(s)+" invalid", func(t *testing.T) {
			t.Parallel()
			if s.Valid() {
				t.Errorf("%q.Valid() = true", s)
			}
		})
	}
}

func TestFeatureCreateValidate(t *testing.T) {
	t.Parallel()
	valid := func() shipgraph.FeatureCreate {
		return shipgraph.FeatureCreate{Name: "Dark mode", Description: "Follow the OS theme.", ComplexityPoints: 5}
	}
	tests := []struct {
		name   string
		modify func(*shipgraph.FeatureCreate)
		field  string                   // "" when valid
		want   *shipgraph.FeatureCreate // the input after Validate, when valid
	}{
		{
			name:   "valid input with empty status defaults to DRAFT",
			modify: func(*shipgraph.FeatureCreate) {},
			want:   &shipgraph.FeatureCreate{Name: "Dark mode", Description: "Follow the OS theme.", ComplexityPoints: 5, Status: shipgraph.FeatureDraft},
		},
		{
			name: "every text field trimmed in place",
			modify: func(in *shipgraph.FeatureCreate) {
				in.Name = " \tDark mode\n "
				in.Description = "\n\n  Follow the OS theme.\n  Line two.\t\n"
			},
			want: &shipgraph.FeatureCreate{Name: "Dark mode", Description: "Follow the OS theme.\n  Line two.", ComplexityPoints: 5, Status: shipgraph.FeatureDraft},
		},
		{
			name:   "empty description accepted",
			modify: func(in *shipgraph.FeatureCreate) { in.Description = "" },
			want:   &shipgraph.FeatureCreate{Name: "Dark mode", ComplexityPoints: 5, Status: shipgraph.FeatureDraft},
		},
		{name: "complexity 1 accepted", modify: func(in *shipgraph.FeatureCreate) { in.ComplexityPoints = 1 }},
		{name: "complexity 13 accepted", modify: func(in *shipgraph.FeatureCreate) { in.ComplexityPoints = 13 }},
		{name: "complexity 0 rejected", modify: func(in *shipgraph.FeatureCreate) { in.ComplexityPoints = 0 }, field: "complexityPoints"},
		{name: "complexity 14 rejected", modify: func(in *shipgraph.FeatureCreate) { in.ComplexityPoints = 14 }, field: "complexityPoints"},
		{name: "complexity -1 rejected", modify: func(in *shipgraph.FeatureCreate) { in.ComplexityPoints = -1 }, field: "complexityPoints"},
		{name: "status lowercase rejected", modify: func(in *shipgraph.FeatureCreate) { in.Status = "draft" }, field: "status"},
		{name: "status unknown rejected", modify: func(in *shipgraph.FeatureCreate) { in.Status = "DONE" }, field: "status"},
		{name: "status with spaces rejected", modify: func(in *shipgraph.FeatureCreate) { in.Status = " READY " }, field: "status"},
		{name: "blank name rejected", modify: func(in *shipgraph.FeatureCreate) { in.Name = "   " }, field: "name"},
		{name: "name checked before other fields", modify: func(in *shipgraph.FeatureCreate) {
			in.Name, in.Description, in.ComplexityPoints, in.Status = "", "\x00", 99, "NOPE"
		}, field: "name"},
		{name: "description checked before complexity", modify: func(in *shipgraph.FeatureCreate) {
			in.Description, in.ComplexityPoints = "\x1b[2J", 0
		}, field: "description"},
		{name: "complexity checked before status", modify: func(in *shipgraph.FeatureCreate) {
			in.ComplexityPoints, in.Status = 0, "NOPE"
		}, field: "complexityPoints"},
	}
	for _, s := range featureStatuses {
		tests = append(tests, struct {
			name   string
			modify func(*shipgraph.FeatureCreate)
			field  string
			want   *shipgraph.FeatureCreate
		}{
			name:   "status " + string(s) + " kept",
			modify: func(in *shipgraph.FeatureCreate) { in.Status = s },
			want:   &shipgraph.FeatureCreate{Name: "Dark mode", Description: "Follow the OS theme.", ComplexityPoints: 5, Status: s},
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := valid()
			tt.modify(&in)
			err := in.Validate()
			check(t, err, tt.field)
			if tt.want != nil && in != *tt.want {
				t.Errorf("after Validate:\n got %+v\nwant %+v", in, *tt.want)
			}
		})
	}
}

func TestFeatureUpdateValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    shipgraph.FeatureUpdate
		field string
	}{
		{name: "no fields set accepted", in: shipgraph.FeatureUpdate{ID: 1}},
		{name: "name set accepted", in: shipgraph.FeatureUpdate{Name: ptr("Dark mode")}},
		{name: "name blank rejected", in: shipgraph.FeatureUpdate{Name: ptr(" ")}, field: "name"},
		{name: "name empty rejected", in: shipgraph.FeatureUpdate{Name: ptr("")}, field: "name"},
		{name: "description empty accepted (clears it)", in: shipgraph.FeatureUpdate{Description: ptr("")}},
		{name: "description with control character rejected", in: shipgraph.FeatureUpdate{Description: ptr("a\x00b")}, field: "description"},
		{name: "complexity 1 accepted", in: shipgraph.FeatureUpdate{ComplexityPoints: ptr(1)}},
		{name: "complexity 13 accepted", in: shipgraph.FeatureUpdate{ComplexityPoints: ptr(13)}},
		{name: "complexity 0 rejected", in: shipgraph.FeatureUpdate{ComplexityPoints: ptr(0)}, field: "complexityPoints"},
		{name: "complexity 14 rejected", in: shipgraph.FeatureUpdate{ComplexityPoints: ptr(14)}, field: "complexityPoints"},
		{name: "status SHIPPED accepted", in: shipgraph.FeatureUpdate{Status: ptr(shipgraph.FeatureShipped)}},
		{name: "status empty rejected", in: shipgraph.FeatureUpdate{Status: ptr(shipgraph.FeatureStatus(""))}, field: "status"},
		{name: "status unknown rejected", in: shipgraph.FeatureUpdate{Status: ptr(shipgraph.FeatureStatus("DONE"))}, field: "status"},
		{name: "expectedVersion 1 accepted", in: shipgraph.FeatureUpdate{ExpectedVersion: ptr(1)}},
		{name: "expectedVersion large accepted", in: shipgraph.FeatureUpdate{ExpectedVersion: ptr(1 << 30)}},
		{name: "expectedVersion 0 rejected", in: shipgraph.FeatureUpdate{ExpectedVersion: ptr(0)}, field: "expectedVersion"},
		{name: "expectedVersion negative rejected", in: shipgraph.FeatureUpdate{ExpectedVersion: ptr(-3)}, field: "expectedVersion"},
		{name: "every field valid accepted", in: shipgraph.FeatureUpdate{
			ID: 7, Name: ptr("Dark mode"), Description: ptr("x\ny"), ComplexityPoints: ptr(8),
			Status: ptr(shipgraph.FeatureReady), ExpectedVersion: ptr(3),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			check(t, in.Validate(), tt.field)
		})
	}

	t.Run("set fields trimmed in place", func(t *testing.T) {
		t.Parallel()
		name, desc := "  Dark mode\t", "\n Follow the OS theme. \n"
		in := shipgraph.FeatureUpdate{ID: 1, Name: &name, Description: &desc}
		requireValid(t, in.Validate())
		if in.Name != &name || in.Description != &desc {
			t.Fatal("Validate replaced the pointers instead of trimming in place")
		}
		if name != "Dark mode" || desc != "Follow the OS theme." {
			t.Errorf("name, description = %q, %q; want trimmed", name, desc)
		}
	})
	t.Run("nil fields stay nil", func(t *testing.T) {
		t.Parallel()
		in := shipgraph.FeatureUpdate{ID: 1}
		requireValid(t, in.Validate())
		if in != (shipgraph.FeatureUpdate{ID: 1}) {
			t.Errorf("Validate changed unset fields: %+v", in)
		}
	})
}

func TestFeatureFilterValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    shipgraph.FeatureFilter
		field string
		want  shipgraph.FeatureFilter // after Validate, when valid
	}{
		{name: "zero filter matches anything", in: shipgraph.FeatureFilter{}},
		{name: "known status accepted", in: shipgraph.FeatureFilter{Status: shipgraph.FeatureReady}, want: shipgraph.FeatureFilter{Status: shipgraph.FeatureReady}},
		{name: "unknown status rejected", in: shipgraph.FeatureFilter{Status: "ready"}, field: "filter.status"},
		{name: "min 1 accepted", in: shipgraph.FeatureFilter{MinComplexity: 1}, want: shipgraph.FeatureFilter{MinComplexity: 1}},
		{name: "min 13 accepted", in: shipgraph.FeatureFilter{MinComplexity: 13}, want: shipgraph.FeatureFilter{MinComplexity: 13}},
		{name: "min 14 rejected", in: shipgraph.FeatureFilter{MinComplexity: 14}, field: "filter.minComplexity"},
		{name: "min negative rejected", in: shipgraph.FeatureFilter{MinComplexity: -1}, field: "filter.minComplexity"},
		{name: "max 1 accepted", in: shipgraph.FeatureFilter{MaxComplexity: 1}, want: shipgraph.FeatureFilter{MaxComplexity: 1}},
		{name: "max 13 accepted", in: shipgraph.FeatureFilter{MaxComplexity: 13}, want: shipgraph.FeatureFilter{MaxComplexity: 13}},
		{name: "max 14 rejected", in: shipgraph.FeatureFilter{MaxComplexity: 14}, field: "filter.maxComplexity"},
		{name: "max negative rejected", in: shipgraph.FeatureFilter{MaxComplexity: -5}, field: "filter.maxComplexity"},
		{name: "min equal to max accepted", in: shipgraph.FeatureFilter{MinComplexity: 5, MaxComplexity: 5}, want: shipgraph.FeatureFilter{MinComplexity: 5, MaxComplexity: 5}},
		{name: "min below max accepted", in: shipgraph.FeatureFilter{MinComplexity: 1, MaxComplexity: 13}, want: shipgraph.FeatureFilter{MinComplexity: 1, MaxComplexity: 13}},
		{name: "min above max rejected", in: shipgraph.FeatureFilter{MinComplexity: 8, MaxComplexity: 3}, field: "filter.minComplexity"},
		{name: "min out of range reported before min above max", in: shipgraph.FeatureFilter{MinComplexity: 20, MaxComplexity: 3}, field: "filter.minComplexity"},
		{name: "max out of range reported before min above max", in: shipgraph.FeatureFilter{MinComplexity: 8, MaxComplexity: 30}, field: "filter.maxComplexity"},
		{name: "search trimmed in place", in: shipgraph.FeatureFilter{Search: "  dark\t"}, want: shipgraph.FeatureFilter{Search: "dark"}},
		{name: "blank search means any", in: shipgraph.FeatureFilter{Search: " \t "}, want: shipgraph.FeatureFilter{}},
		{name: "search LIKE wildcards kept verbatim", in: shipgraph.FeatureFilter{Search: `50%_off\`}, want: shipgraph.FeatureFilter{Search: `50%_off\`}},
		{name: "search with newline rejected", in: shipgraph.FeatureFilter{Search: "a\nb"}, field: "filter.search"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.in
			err := f.Validate()
			check(t, err, tt.field)
			if tt.field == "" && f != tt.want {
				t.Errorf("after Validate: got %+v, want %+v", f, tt.want)
			}
		})
	}
}
