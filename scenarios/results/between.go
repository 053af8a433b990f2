package results

import "time"

// Between is the part of r in the played stretch [from, to): its time
// buckets whose middle lies there, summed into the totals a verdict reads
// (answers by when they were intended, users by when they arrived, and
// the come_back departures and returns by when they happened). A clause
// judged at a period (a meal of the day) reads this.
func (r *Run) Between(from, to time.Duration) *Run {
	out := &Run{Format: r.Format, Version: r.Version, Meta: r.Meta, Endpoints: map[string]*Endpoint{}, Generator: r.Generator}
	in := func(b int) bool {
		mid := time.Duration(b)*r.Meta.Bucket + r.Meta.Bucket/2
		return mid >= from && mid < to
	}
	for name, e := range r.Endpoints {
		oe := &Endpoint{Total: NewSeries(BucketDigits), Buckets: make([]*Series, len(e.Buckets))}
		for b, s := range e.Buckets {
			if s != nil && in(b) {
				oe.Total.Merge(s)
				oe.Buckets[b] = s
			}
		}
		out.Endpoints[name] = oe
	}
	out.UserBuckets = make([]Users, len(r.UserBuckets))
	for b, u := range r.UserBuckets {
		if in(b) {
			out.Users.Add(u)
			out.UserBuckets[b] = u
		}
	}
	for _, ev := range r.Events {
		if ev.At >= from && ev.At < to {
			out.Events = append(out.Events, ev)
		}
	}
	return out
}
