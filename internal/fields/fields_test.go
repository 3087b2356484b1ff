package fields

import (
	"errors"
	"slices"
	"testing"
)

func TestCheckerCollectsEveryProblem(t *testing.T) {
	var c Checker
	if c.Err() != nil {
		t.Fatal("no problems must be a nil error")
	}
	ok := []bool{
		c.Text("a", "", 5, true),
		c.Text("b", "toolong", 5, false),
		c.Text("c", "\xff", 5, false),
		c.Text("d", "", 5, false),
		c.Text("e", "fine", 5, true),
	}
	if want := []bool{false, false, false, true, true}; !slices.Equal(ok, want) {
		t.Fatalf("Text results %v, want %v", ok, want)
	}
	var fe Errors
	if !errors.As(c.Err(), &fe) || len(fe) != 3 || !fe.Has("a") || !fe.Has("b") || !fe.Has("c") || fe.Has("d") {
		t.Fatalf("problems %v", c.Err())
	}
	if fe.Error() != "a: is required; b: too long (7 bytes, max 5); c: is not valid UTF-8" {
		t.Fatalf("message %q", fe.Error())
	}
}

func TestDecodeJSON(t *testing.T) {
	var v struct{ A int }
	for body, wantErr := range map[string]bool{`{"A":1}`: false, `{"A":1,"B":2}`: true, `{"A":1} {}`: true, `[`: true, `{"A":"x"}`: true} {
		err := DecodeJSON([]byte(body), &v)
		var fe Errors
		if (err != nil) != wantErr || (err != nil && (!errors.As(err, &fe) || !fe.Has("body"))) {
			t.Errorf("%s: %v", body, err)
		}
	}
}
