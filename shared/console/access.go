package console

// accessRoutes adds the Access pages.
func (c *Console) accessRoutes() {}
