package container

import (
	"errors"

	"husk/store/volume"
)

// VolumeUsers maps each volume's name to the names of the containers that
// mount it, running or not: those of their configs, and the volumes made
// for their images' VOLUMEs.
func (s *Store) VolumeUsers() (map[string][]string, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	byID := map[string]string{}
	for _, c := range all {
		byID[c.ID] = c.Name
		for _, v := range c.Config.Volumes {
			users[v.Name] = append(users[v.Name], c.Name)
		}
	}
	vs, err := volume.Open()
	if err != nil {
		return nil, err
	}
	vols, err := vs.List()
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		if name, ok := byID[v.Owner]; ok {
			users[v.Name] = append(users[v.Name], name)
		}
	}
	return users, nil
}

// RemoveVolumes removes ct's anonymous volumes (rm -v, --rm) that no other
// container mounts (--volumes-from), in husk's user namespace.
func (s *Store) RemoveVolumes(ct *Container) error {
	vs, err := volume.Open()
	if err != nil {
		return err
	}
	vols, err := vs.List()
	if err != nil {
		return err
	}
	anon := map[string]bool{}
	for _, v := range ct.Config.Volumes {
		anon[v.Name] = v.Anonymous
	}
	users, err := s.VolumeUsers()
	if err != nil {
		return err
	}
	var errs []error
	for _, v := range vols {
		if !(anon[v.Name] || v.Owner == ct.ID) || usedByOthers(users[v.Name], ct.Name) {
			continue
		}
		if err := vs.Remove(v.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func usedByOthers(users []string, self string) bool {
	for _, u := range users {
		if u != self {
			return true
		}
	}
	return false
}
