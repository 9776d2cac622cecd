package cli

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Duration defines a duration flag, as flag.FlagSet.Duration does, whose
// error says what is wrong: flag's own says only "parse error", also for
// "20" where "20s" was meant.
func (fs *flagSet) Duration(name string, value time.Duration, usage string) *time.Duration {
	d := durationValue(value)
	fs.Var(&d, name, usage)
	return (*time.Duration)(&d)
}

// durationValue is a flag.Value for a time.Duration.
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err == nil {
		*d = durationValue(v)
		return nil
	}
	if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		return fmt.Errorf("a duration needs a unit: %ss, %sms or %sm (units: ns, us, ms, s, m, h)", s, s, s)
	}
	return errors.New("not a duration: want a number with a unit, such as 20s, 500ms or 1m30s")
}
